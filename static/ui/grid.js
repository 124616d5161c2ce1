/* The license grid, improved: "Add row", spreadsheet-like keys and paste, unsaved-change
 * warnings. The page works without it; nothing here saves anything: Save posts the form and
 * the server validates every cell. */
(function () {
  "use strict";

  var form = document.getElementById("grid-form");
  if (!form) { return; }
  var tbody = form.querySelector("table.grid tbody");
  var template = document.getElementById("new-row-template");
  var addButton = document.getElementById("add-row");
  var dirtyNote = document.getElementById("dirty-note");
  var lastCol = Number(form.dataset.lastCol);
  var nextIndex = Number(form.dataset.nextIndex || 0);
  var dirty = false;
  var submitting = false;

  function rows() { return Array.prototype.slice.call(tbody.querySelectorAll("tr[data-row]")); }
  function cellAt(row, col) { return row ? row.querySelector('[data-col="' + col + '"]') : null; }
  function isTextLike(el) {
    return el.tagName === "INPUT" && (el.type === "text" || el.type === "search");
  }

  // ---- Add row --------------------------------------------------------------------------
  function addRow() {
    var index = String(nextIndex++);
    var html = template.innerHTML.split("__index__").join(index)
      .split("__number__").join(String(rows().length + 1));
    tbody.insertAdjacentHTML("beforeend", html);
    var row = tbody.lastElementChild;
    while (row && !row.hasAttribute("data-row")) { row = row.previousElementSibling; }
    return row;
  }
  if (addButton && template) {
    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      var row = addRow();
      (cellAt(row, 1) || cellAt(row, 0)).focus();
    });
  }

  // ---- Unsaved changes ------------------------------------------------------------------
  function markDirty(row) {
    if (row && !row.classList.contains("is-dirty")) {
      row.classList.add("is-dirty");
      sayUnsaved(row);
    }
    dirty = true;
    if (dirtyNote) { dirtyNote.hidden = false; }
  }
  // A changed row says so in words, not by the colour of its bar alone (WCAG 1.4.1): "Unsaved"
  // in its Result cell, also read with its first cell, as a Save's result is.
  function sayUnsaved(row) {
    var result = row.querySelector("td.col-result");
    var first = cellAt(row, 0);
    if (!row.hasAttribute("data-row") || !result || !first) { return; }
    var tag = document.createElement("span");
    tag.className = "badge badge-unsaved";
    tag.id = row.id.replace(/^row-/, "") + "-unsaved";
    tag.textContent = "Unsaved";
    result.insertBefore(tag, result.querySelector("a.history-link"));
    describedBy(first, tag.id, true);
  }
  tbody.addEventListener("input", function (event) { markDirty(event.target.closest("tr")); });
  tbody.addEventListener("change", function (event) {
    var el = event.target;
    markDirty(el.closest("tr"));
    if (el.dataset.kind === "delete") { el.closest("tr").classList.toggle("is-deleting", el.checked); }
  });
  // One Save at a time: a second click would resend versions the first one already replaced,
  // and report the user's own rows as conflicts.
  var saveButton = document.getElementById("save");
  form.addEventListener("submit", function (event) {
    if (submitting) { event.preventDefault(); return; }
    // A row ticked for deletion is deleted without its cells being read (as the server does).
    var bad = rows().filter(function (row) { return !row.classList.contains("is-deleting"); })
      .map(checkDates).filter(Boolean);
    if (bad.length) { event.preventDefault(); bad[0].focus(); return; }
    submitting = true;
    if (saveButton) { saveButton.setAttribute("aria-disabled", "true"); saveButton.textContent = "Saving…"; }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && saveButton) { // back from the page cache: allow Save again
      submitting = false;
      saveButton.removeAttribute("aria-disabled");
      saveButton.textContent = "Save";
    }
  });
  // Leaving asks too while other pages of this grid hold changes this tab keeps (see
  // keptElsewhere below): closing the tab drops them. Following a link to another page of the
  // grid (where they are offered back) does not ask for those.
  var withinGrid = false;
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    // Opened in another tab or window (Ctrl, Shift, Cmd; a target): this tab stays, and so
    // does what it keeps, which closing it later drops.
    var elsewhere = event.ctrlKey || event.metaKey || event.shiftKey ||
      (link && link.target && link.target !== "_self");
    if (elsewhere) { withinGrid = false; return; }
    if (link && link.hash && link.href.split("#")[0] === location.href.split("#")[0]) { return; }
    withinGrid = Boolean(link && link.origin === location.origin && link.pathname === location.pathname);
  }, true);
  window.addEventListener("beforeunload", function (event) {
    if (submitting) { return; }
    if (dirty || (!withinGrid && keptElsewhere().length)) { event.preventDefault(); event.returnValue = ""; }
  });
  window.addEventListener("pageshow", function () { withinGrid = false; });

  // ---- Keyboard: arrows and Enter move between cells -------------------------------------
  // A read-only cell (a stored row's Key) is at both ends: Chromium never moves the caret in
  // it, so waiting for the caret to reach an end would keep the arrows in that cell.
  function caretAtStart(el) {
    return !isTextLike(el) || el.readOnly || (el.selectionStart === 0 && el.selectionEnd === 0);
  }
  function caretAtEnd(el) {
    return !isTextLike(el) || el.readOnly ||
      (el.selectionStart === el.value.length && el.selectionEnd === el.value.length);
  }
  function focusCell(el) {
    if (!el) { return false; }
    el.focus();
    if (isTextLike(el) && !el.readOnly) { el.select(); }
    return true;
  }
  function neighbour(el, dRow, dCol) {
    var all = rows();
    var r = all.indexOf(el.closest("tr"));
    var c = Number(el.dataset.col);
    if (dCol) {
      for (var col = c + dCol; col >= 0 && col <= lastCol; col += dCol) {
        var found = cellAt(all[r], col);
        if (found) { return found; }
      }
      return null;
    }
    for (var i = r + dRow; i >= 0 && i < all.length; i += dRow) {
      var target = cellAt(all[i], c);
      if (target) { return target; }
    }
    return null;
  }
  // Ctrl+S / Cmd+S saves the grid (the browser would save the page as a file).
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "s" || event.key === "S")) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(saveButton || undefined); }
      else if (saveButton) { saveButton.click(); }
    }
  });
  // A row's "My values / Their values" choice is on a line of its own below the row.
  function choiceRadios(row) {
    for (var next = row.nextElementSibling; next && !next.matches("tr[data-row]");
         next = next.nextElementSibling) {
      var radios = next.querySelectorAll('fieldset.resolve input[type="radio"]');
      if (radios.length) { return Array.prototype.slice.call(radios); }
    }
    return [];
  }
  function chosen(row) { return choiceRadios(row).filter(function (r) { return r.checked; })[0] || null; }
  function conflictChoice(row) { return chosen(row) || choiceRadios(row)[0] || null; }
  // A row's History link is its last stop for the arrow keys: right of its last cell, and up
  // or down to the History links of the rows around it. It is not a Tab stop (tabindex -1 in
  // _grid.html): Tab walks the cells, row after row, as in a spreadsheet.
  function historyLinks() { return Array.prototype.slice.call(tbody.querySelectorAll("a.history-link")); }
  function historyLinkOf(row) { return row ? row.querySelector("a.history-link") : null; }
  function lastCell(row) {
    for (var col = lastCol; col >= 0; col--) {
      var found = cellAt(row, col);
      if (found) { return found; }
    }
    return null;
  }
  function fromHistoryLink(link, key) {
    var links = historyLinks();
    switch (key) {
      case "ArrowUp": return links[links.indexOf(link) - 1] || null;
      case "ArrowDown": return links[links.indexOf(link) + 1] || null;
      case "ArrowLeft": return lastCell(link.closest("tr"));
      default: return null;
    }
  }
  function isGoToSave(event) {
    return event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.altKey;
  }
  tbody.addEventListener("keydown", function (event) {
    var el = event.target;
    var onHistory = el.matches("a.history-link");
    // Tab is the browser's: to the next cell. The way out of hundreds of cells is Ctrl+Enter
    // (Cmd+Enter): to the Save bar without saving, or first to the row's "My values / Their
    // values" choice when it has a conflict.
    if (isGoToSave(event) && el.matches("[data-col]") && saveButton) {
      event.preventDefault(); // Enter in a cell would submit the form
      (conflictChoice(el.closest("tr")) || saveButton).focus();
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || (onHistory && event.shiftKey)) {
      // Alt+Enter (Option+Return) in a cell would submit the form: Enter never does in the grid.
      if (event.key === "Enter" && el.matches("[data-col]")) { event.preventDefault(); }
      return;
    }
    if (onHistory) { // Enter follows the link, as on any link
      var to = fromHistoryLink(el, event.key);
      if (to) { event.preventDefault(); focusCell(to); }
      return;
    }
    if (!el.matches("[data-col]")) { return; }
    var move = null;
    switch (event.key) {
      case "ArrowUp": move = [-1, 0]; break;
      case "ArrowDown": move = [1, 0]; break;
      case "Enter": move = [event.shiftKey ? -1 : 1, 0]; break;
      case "ArrowLeft": if (caretAtStart(el)) { move = [0, -1]; } break;
      case "ArrowRight": if (caretAtEnd(el)) { move = [0, 1]; } break;
      default: return;
    }
    if (!move) { return; }
    event.preventDefault(); // also: Enter never submits the form from inside the grid
    var next = neighbour(el, move[0], move[1]);
    if (!next && move[1] > 0) { next = historyLinkOf(el.closest("tr")); }
    focusCell(next);
  });

  // ---- Paste: tab-separated cells from a spreadsheet --------------------------------------
  function parseTsv(text) {
    text = text.replace(/\r\n?/g, "\n");
    var out = [[]];
    var cell = "";
    var quoted = false;
    var atCellStart = true;
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (ch === '"') { quoted = false; }
        else { cell += ch; }
        continue;
      }
      if (ch === '"' && atCellStart) { quoted = true; atCellStart = false; continue; }
      if (ch === "\t") { out[out.length - 1].push(cell); cell = ""; atCellStart = true; continue; }
      if (ch === "\n") { out[out.length - 1].push(cell); out.push([]); cell = ""; atCellStart = true; continue; }
      cell += ch;
      atCellStart = false;
    }
    out[out.length - 1].push(cell);
    if (out.length > 1 && out[out.length - 1].length === 1 && out[out.length - 1][0] === "") { out.pop(); }
    return out;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function year4(y) { return ("000" + y).slice(-4); }
  function isoDate(y, m, d) {
    if (y < 1) { return null; }
    var date = new Date(0);
    date.setUTCFullYear(y, m - 1, d); // not Date.UTC, which reads the years 0-99 as 1900-1999
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) { return null; }
    return year4(y) + "-" + pad(m) + "-" + pad(d);
  }
  // Date cells are text: what a person types is what the server reads (a browser date input
  // would send "" for 02/30/2027 and so clear the stored date). Recognised forms are shown as
  // mm/dd/yyyy; anything else is kept as typed and blocks Save with an error on the cell.
  var DATE_ERROR = "Enter a real date, e.g. 03/31/2027.";
  function usDate(y, m, d, time) {
    var iso = isoDate(y, m, d);
    if (!iso) { return null; }
    return pad(m) + "/" + pad(d) + "/" + year4(y) + (time ? " " + time : "");
  }
  function readDate(value) {
    var v = value.trim();
    var m;
    if (v === "") { return ""; }
    if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2})?))?$/.exec(v))) {
      return validTime(m[4]) ? usDate(+m[3], +m[1], +m[2], m[4]) : null;
    }
    if ((m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2})?))?\s*(?:Z|UTC)?$/i.exec(v))) {
      return validTime(m[4]) ? usDate(+m[1], +m[2], +m[3], m[4]) : null;
    }
    return null;
  }
  function validTime(t) {
    if (!t) { return true; }
    var parts = t.split(":").map(Number);
    return parts[0] < 24 && parts[1] < 60 && (parts.length < 3 || parts[2] < 60);
  }
  // A two-digit year is read in the 100 years from 79 years back to 20 years ahead of this
  // one: a license's term date lies up to ~20 years ahead, its effective and PSV dates decades
  // back. (Read as 20YY, a license that expired in 1999 was saved as current until 2099.)
  // The year is UTC's, as the server's (app/ui/date_cells.py): on New Year's Eve in America
  // the local year lags, and the same text typed with and without JavaScript differed.
  function fullYear(yy) {
    var now = new Date().getUTCFullYear();
    var year = now - now % 100 + yy; // in this century
    if (year > now + 20) { year -= 100; } else if (year < now - 79) { year += 100; }
    return year;
  }
  // Spreadsheets also show dates with the month's name: "Jan 2, 2025", "2-Jan-25".
  var MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december"];
  function monthNumber(name) {
    name = name.toLowerCase();
    for (var i = 0; name.length >= 3 && i < MONTHS.length; i++) {
      if (MONTHS[i].indexOf(name) === 0) { return i + 1; } // "sept" too
    }
    return 0;
  }
  function namedMonthDate(month, day, year) {
    var m = monthNumber(month);
    var y = year.length === 2 ? fullYear(Number(year)) : Number(year);
    return m ? usDate(y, m, Number(day)) : null;
  }
  function dateCell(value) {
    var m = /^(\d{1,2})\/(\d{1,2})\/(\d{2})$/.exec(value.trim()); // spreadsheets: M/D/YY
    if (m) { return usDate(fullYear(Number(m[3])), +m[1], +m[2]) || value; }
    if ((m = /^([a-z]+)\.? +(\d{1,2}),? +(\d{4})$/i.exec(value.trim()))) {
      return namedMonthDate(m[1], m[2], m[3]) || value;
    }
    if ((m = /^(\d{1,2})[- ]([a-z]+)\.?[- ](\d{2}|\d{4})$/i.exec(value.trim()))) {
      return namedMonthDate(m[2], m[1], m[3]) || value;
    }
    var read = readDate(value);
    return read === null ? value : read;
  }
  // A cell may be described by more than its error (a conflict's stored value, the row's
  // message): only the error's id is added or taken out.
  function describedBy(el, id, on) {
    var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/)
      .filter(function (other) { return other && other !== id; });
    if (on) { ids.unshift(id); }
    if (ids.length) { el.setAttribute("aria-describedby", ids.join(" ")); }
    else { el.removeAttribute("aria-describedby"); }
  }
  function showCellError(el, message) {
    var id = el.id + "-error";
    var existing = document.getElementById(id);
    if (!message) {
      if (existing && existing.dataset.client) { existing.remove(); }
      if (!existing || existing.dataset.client) {
        el.removeAttribute("aria-invalid");
        describedBy(el, id, false);
        el.closest("td").classList.remove("has-error");
      }
      return;
    }
    if (!existing) {
      existing = document.createElement("span");
      existing.className = "cell-error";
      existing.id = id;
      existing.dataset.client = "1";
      el.insertAdjacentElement("afterend", existing);
    }
    existing.textContent = message;
    el.setAttribute("aria-invalid", "true");
    describedBy(el, id, true);
    el.closest("td").classList.add("has-error");
  }
  // A date is typed as it is pasted ("1/2/24", "Jan 31, 2025"): read, it is shown as mm/dd/yyyy.
  // The server reads a cell posted without this script the same way (app/ui/date_cells.py).
  function readDateCell(value) { return readDate(dateCell(value)); }
  function checkDate(el) {
    var read = readDateCell(el.value);
    if (read) { el.value = read; }
    showCellError(el, read === null ? DATE_ERROR : null);
    return read !== null;
  }
  function checkDates(row) {
    var first = null;
    Array.prototype.forEach.call(row.querySelectorAll('input[data-kind="date"]'), function (el) {
      if (!checkDate(el) && !first) { first = el; }
    });
    return first;
  }
  // A text cell's limit is checked, not enforced: the browser's maxlength cut a pasted value
  // short without a word. Code points, as the server counts them.
  function checkLength(el) {
    var max = Number(el.dataset.maxLength);
    var over = Array.from(el.value).length > max;
    showCellError(el, over ? "Too long: shorten it to at most " + max + " characters." : null);
  }
  tbody.addEventListener("input", function (event) {
    var el = event.target;
    if (el.dataset && el.dataset.maxLength) { checkLength(el); }
    // A flagged date's error goes as soon as the cell reads as a date, not when it is left:
    // left by a mousedown on Save, the error line went, the row got shorter and Save moved
    // from under the pointer before the mouseup, so the click was lost. Errors are still only
    // added on leaving the cell (a date half typed is not wrong yet).
    if (el.dataset && el.dataset.kind === "date" && readDateCell(el.value) !== null) { showCellError(el, null); }
  });
  tbody.addEventListener("focusout", function (event) {
    var el = event.target;
    if (el.dataset && el.dataset.kind === "date") { checkDate(el); }
  });

  function setSelect(el, value) {
    var wanted = value.trim();
    var lower = wanted.toLowerCase();
    var options = Array.prototype.slice.call(el.options);
    var match = options.filter(function (o) { return o.value === wanted; })[0] ||
      options.filter(function (o) { return o.value.toLowerCase() === lower; })[0] ||
      options.filter(function (o) { return o.text.trim().toLowerCase() === lower; })[0];
    if (!match && wanted === "") { match = options[0]; }
    if (!match) {
      match = document.createElement("option");
      match.value = value;
      match.textContent = value; // kept as pasted; Save reports it on this cell
      match.title = "Not in the list";
      el.appendChild(match);
    }
    el.value = match.value;
  }

  function setCell(el, value) {
    if (el.readOnly || el.type === "checkbox") { return; }
    if (el.tagName === "SELECT") {
      setSelect(el, value);
    } else if (el.dataset.kind === "date") {
      el.value = dateCell(value);
      checkDate(el);
    } else if (el.dataset.kind === "state" && /^\s*[a-z]{2}\s*$/i.test(value)) {
      el.value = value.trim().toUpperCase();
    } else {
      el.value = value.replace(/\s*[\r\n]+\s*/g, " "); // a one-line cell: lines become words
    }
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }

  tbody.addEventListener("paste", function (event) {
    var el = event.target;
    if (!el.matches("[data-col]")) { return; }
    var text = (event.clipboardData || window.clipboardData).getData("text/plain");
    if (!text) { return; }
    var block = parseTsv(text);
    var single = block.length === 1 && block[0].length === 1;
    if (single && isTextLike(el) && !el.readOnly && !/[\r\n]/.test(block[0][0])) {
      return; // an ordinary paste into one cell (one of several lines is handled below)
    }
    event.preventDefault();
    var all = rows();
    var startRow = all.indexOf(el.closest("tr"));
    var startCol = Number(el.dataset.col);
    block.forEach(function (values, offset) {
      var row = all[startRow + offset];
      if (!row) { row = addRow(); all.push(row); }
      values.forEach(function (value, i) {
        var target = cellAt(row, startCol + i);
        if (target && target.dataset.kind !== "delete") { setCell(target, value); }
      });
    });
  });

  // ---- Drafts: nothing typed is lost when a Save never reaches the grid --------------------
  // Save keeps the rows it sends (every input of each row changed or left unsaved by the last
  // Save, the hidden version and loaded cells included) in this tab's sessionStorage, under
  // this database, user, credential and page, until the server answers with this grid. If it
  // answers otherwise (the session ended, the form expired, the answer was lost), the next time
  // that page is opened the server is asked what became of that Save (app/ui/save_once.py):
  // one it never processed is offered back as it was sent (a row someone changed meanwhile
  // comes back as a conflict), one it did process is not (its rows without a key would be
  // created twice).
  var draftKey = "credgrid-draft:" + form.dataset.draftScope;
  var saveId = form.querySelector('input[name="save_id"]');
  var DRAFT_HOURS = 12; // well within the 24 h the server keeps what became of a Save
  var fieldOf = function (el) { return el.name.replace(/^rows-\d+-/, ""); };

  function newSaveId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }
  function unsaved(row) {
    return row.classList.contains("is-dirty") || row.classList.contains("outcome-invalid") ||
      row.classList.contains("outcome-conflict");
  }
  function rowDraft(row) {
    var cells = {};
    Array.prototype.forEach.call(row.querySelectorAll("input[name], select[name]"), function (el) {
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked) { cells[fieldOf(el)] = el.value; }
      } else {
        cells[fieldOf(el)] = el.value;
      }
    });
    settleChoice(row, cells);
    return { key: row.dataset.licenseKey || null, cells: cells };
  }
  // A conflict is only shown in answer to a Save, so a page opened again has no choice to put
  // a kept one back in. The draft keeps the row as the choice makes it instead: "Their values"
  // puts the stored values (the row's loaded cells, after a conflict) in the marked cells, and
  // the conflict is settled; the next Save writes what the row shows.
  function settleChoice(row, cells) {
    var choice = chosen(row);
    if (!choice || !cells.conflicts) { return; }
    if (choice.value === "theirs") {
      var loaded;
      try { loaded = JSON.parse(cells.loaded); } catch (e) { return; }
      var marked = cells.conflicts.split(",");
      Array.prototype.forEach.call(row.querySelectorAll("[data-col][name]"), function (el) {
        if (marked.indexOf(fieldOf(el)) >= 0) { cells[fieldOf(el)] = loaded[Number(el.dataset.col)]; }
      });
    }
    cells.conflicts = "";
  }
  // Rows kept in this tab's sessionStorage under a key, with when (none kept: the key goes).
  function storeRows(key, kept, saveIdValue) {
    try {
      if (!kept.length) { sessionStorage.removeItem(key); return; }
      var entry = { at: new Date().toISOString(), rows: kept };
      if (saveIdValue !== undefined) { entry.saveId = saveIdValue; }
      sessionStorage.setItem(key, JSON.stringify(entry));
    } catch (e) { /* storage full or disabled: the page's own warning still applies */ }
  }
  function storedRows(key) {
    try { return JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function unstore(key) {
    try { sessionStorage.removeItem(key); } catch (e) { /* nothing kept */ }
  }
  function tooOld(entry) {
    return Date.now() - new Date(entry.at).getTime() > DRAFT_HOURS * 3600 * 1000;
  }
  function keepDraft() { storeRows(draftKey, rows().filter(unsaved).map(rowDraft), saveId.value); }
  function readDraft() { return storedRows(draftKey); }
  function dropDraft() { unstore(draftKey); }
  function isBlank(row) {
    return !row.dataset.licenseKey && Array.prototype.every.call(
      row.querySelectorAll('input[type="text"], select'), function (el) { return !el.value; });
  }
  function restoreRow(saved) {
    var row = saved.key && tbody.querySelector('tr[data-license-key="' + saved.key + '"]');
    // A deletion of a license the page no longer shows has nothing to tick (a new row has no
    // Delete box): put in a blank row, it became a row of the deleted license's values.
    if (!row && saved.cells["delete"] === "y") { return; }
    if (!row) { row = rows().filter(isBlank)[0] || addRow(); }
    Array.prototype.forEach.call(row.querySelectorAll("input[name], select[name]"), function (el) {
      var value = saved.cells[fieldOf(el)];
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = value !== undefined && el.value === value;
      } else if (value === undefined) {
        return;
      } else if (el.tagName === "SELECT") {
        setSelect(el, value);
      } else {
        el.value = value;
      }
    });
    row.classList.toggle("is-deleting", saved.cells["delete"] === "y");
    markDirty(row);
  }
  function notice(text, actions) {
    var note = document.createElement("div");
    note.className = "notice draft-notice";
    note.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.textContent = text;
    note.appendChild(p);
    actions.forEach(function (action, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = action.label;
      if (i === 0) { button.className = "primary"; }
      button.addEventListener("click", function () {
        action.run();
        // The focus was on this button: it goes on into the grid, not to the page's start.
        if (note.contains(document.activeElement)) { focusCell(tbody.querySelector("[data-col]")); }
        note.remove();
      });
      note.appendChild(button);
    });
    form.parentNode.insertBefore(note, form);
  }
  function whenSaved(draft) { return new Date(draft.at).toLocaleString(); }
  var waitingDraft = null; // the rows of a draft whose offer is not answered yet
  function offerDraft(draft) {
    waitingDraft = draft.rows;
    notice("Changes to " + draft.rows.length + " row(s) that you saved at " + whenSaved(draft) +
      " were not written: that Save did not get through (the session had ended, the Save " +
      "was too large, or its answer was lost: the page it led to said which). " +
      "Put them back in the grid, then Save?", [
      { label: "Put my changes back", run: function () {
        draft.rows.forEach(restoreRow); // under a new Save id: nothing of that Save was written
        waitingDraft = null;
        dropDraft();
        (saveButton || form).focus();
      } },
      { label: "Discard them", run: function () { waitingDraft = null; dropDraft(); } }
    ]);
  }
  function settleDraft(draft, state) {
    if (state === "unknown") { offerDraft(draft); return; }
    if (state === "interrupted") { offerInterrupted(draft); return; }
    dropDraft();
    notice("Your Save of " + whenSaved(draft) + " did reach the server and was saved; the grid shows it.",
      [{ label: "OK", run: function () {} }]);
  }
  // A Save interrupted after part of it was written: which rows were is not known here, and
  // nothing typed is dropped for that. A change to a stored license is safe to send again (its
  // version makes one already written come back Unchanged, never written twice, and one
  // someone changed since a conflict). A new row is not: it may have been created already,
  // and would be created again; it is offered apart, for the user to look for it first. Each
  // part stays kept (and is asked about again on the next load) until it is answered.
  function offerInterrupted(draft) {
    var changed = draft.rows.filter(function (row) { return row.key; });
    var added = draft.rows.filter(function (row) { return !row.key; });
    var waiting = { changed: changed, added: added };
    function answered(part) {
      waiting[part] = [];
      waitingDraft = waiting.changed.concat(waiting.added);
      if (!waitingDraft.length) { waitingDraft = null; dropDraft(); return; }
      try {
        sessionStorage.setItem(draftKey, JSON.stringify({ at: draft.at, rows: waitingDraft, saveId: draft.saveId }));
      } catch (e) { /* storage full or disabled */ }
    }
    waitingDraft = draft.rows;
    var when = "Your Save of " + whenSaved(draft) + " was interrupted and may have been written in part. ";
    if (changed.length) {
      notice(when + "Put your changes to " + changed.length + " license(s) back in the grid, then Save? " +
        "A change that was written already saves as Unchanged.", [
        { label: "Put my changes back", run: function () {
          changed.forEach(restoreRow);
          answered("changed");
          (saveButton || form).focus();
        } },
        { label: "Discard them", run: function () { answered("changed"); } }
      ]);
    }
    if (added.length) {
      notice((changed.length ? "" : when) + "Its " + added.length + " new row(s) may have been " +
        "created already: look for them in the grid, and put them back only if it does not show them.", [
        { label: "Put the new rows back", run: function () {
          added.forEach(restoreRow);
          answered("added");
          (saveButton || form).focus();
        } },
        { label: "Discard the new rows", run: function () { answered("added"); } }
      ]);
    }
  }

  // ---- Edits not yet sent: a reload, a closed tab or a link followed loses nothing ---------
  // The rows changed since the page loaded (and those a Save could not write) are kept a
  // moment after each edit, and when the page is left, under a key of their own; the next
  // time this page is opened they are offered back. A Save that sends them drops them (the
  // draft above takes over); so does "Discard them".
  var editsKey = draftKey + ":edits";
  var editsTimer = null;
  var offered = null; // the rows an offer waits to put back: kept beside new edits meanwhile
  function keepEdits() {
    clearTimeout(editsTimer);
    if (submitting) { return; }
    var kept = rows().filter(unsaved).map(rowDraft);
    storeRows(editsKey, offered ? withEarlier(offered, kept) : kept);
  }
  function withEarlier(earlier, later) { return notIn(earlier, later).concat(later); }
  function notIn(earlier, later) {
    var keys = {};
    later.forEach(function (row) { if (row.key) { keys[row.key] = true; } });
    return earlier.filter(function (row) { return !row.key || !keys[row.key]; });
  }
  // A Save sends the rows in the grid, not those an offer still waits to put back: they stay
  // kept (but for rows this Save sends again) and the grid it answers with offers them again.
  function keepOfferedOnly() {
    clearTimeout(editsTimer);
    if (!offered) { dropEdits(); return; }
    storeRows(editsKey, notIn(offered, rows().filter(unsaved).map(rowDraft)));
  }
  function keepEditsSoon() { clearTimeout(editsTimer); editsTimer = setTimeout(keepEdits, 300); }
  function dropEdits() {
    clearTimeout(editsTimer);
    offered = null;
    unstore(editsKey);
  }
  // A kept row the page already shows exactly so (a Save sent again by a reload answers with
  // the rows it could not write, as typed) is not offered: put back, a new one filled another
  // blank row.
  function sameCells(a, b) {
    return Object.keys(a).concat(Object.keys(b)).every(function (name) { return a[name] === b[name]; });
  }
  function shownAsKept(saved) {
    return rows().filter(unsaved).some(function (row) {
      var shown = rowDraft(row);
      return shown.key === saved.key && sameCells(shown.cells, saved.cells);
    });
  }
  function offerEdits() {
    var edits = storedRows(editsKey);
    if (edits && edits.rows) { edits.rows = edits.rows.filter(function (row) { return !shownAsKept(row); }); }
    if (!edits || !edits.rows || !edits.rows.length) { return; }
    if (tooOld(edits)) { dropEdits(); return; }
    offered = edits.rows;
    notice("You changed " + edits.rows.length + " row(s) here, last at " + whenSaved(edits) +
      ", and did not save them. Put them back in the grid?", [
      { label: "Put my changes back", run: function () {
        edits.rows.forEach(restoreRow);
        offered = null;
        keepEdits();
        (saveButton || form).focus();
      } },
      { label: "Discard them", run: function () { offered = null; keepEdits(); } }
    ]);
  }
  // ---- Changes kept for other pages of this grid ------------------------------------------
  // Each page keeps its own (under its page number). A page says which others hold some: the
  // tab's keeping ends with the tab, so a clerk working on page 2 is not left to remember
  // that page 1 still waits.
  var scopePrefix = draftKey.slice(0, draftKey.lastIndexOf("/") + 1);
  var thisPage = draftKey.slice(scopePrefix.length);
  function keptElsewhere() {
    var pages = [];
    try {
      for (var i = 0; i < sessionStorage.length; i++) {
        var key = sessionStorage.key(i);
        var found = key && key.indexOf(scopePrefix) === 0 &&
          /^(\d+)(?::edits)?$/.exec(key.slice(scopePrefix.length));
        if (!found || found[1] === thisPage || pages.indexOf(found[1]) >= 0) { continue; }
        var entry = storedRows(key);
        if (entry && entry.rows && entry.rows.length && !tooOld(entry)) { pages.push(found[1]); }
      }
    } catch (e) { /* storage disabled: nothing kept */ }
    return pages.sort(function (a, b) { return a - b; });
  }
  function noteKeptElsewhere(pages) {
    if (!pages.length) { return; }
    var note = document.createElement("p");
    note.className = "notice kept-elsewhere";
    note.setAttribute("role", "status");
    note.appendChild(document.createTextNode("Changes not saved yet on "));
    pages.forEach(function (number, i) {
      if (i) { note.appendChild(document.createTextNode(i === pages.length - 1 ? " and " : ", ")); }
      var link = document.createElement("a");
      link.href = location.pathname + (number === "1" ? "" : "?page=" + number);
      link.textContent = "page " + number;
      note.appendChild(link);
    });
    note.appendChild(document.createTextNode(" of this grid are kept in this tab only: open " +
      (pages.length > 1 ? "each" : "it") + " to put them back and save them."));
    form.parentNode.insertBefore(note, form);
  }
  // Licenses deleted meanwhile may leave the grid shorter than when changes were kept for its
  // last pages: a page asked for past the end is served as the last one, which takes them over.
  function adoptPagesPastTheEnd() {
    if (Number(thisPage) < Number(form.dataset.pages)) { return; }
    try {
      var keys = [];
      for (var i = 0; i < sessionStorage.length; i++) { keys.push(sessionStorage.key(i)); }
      keys.forEach(function (key) {
        var found = key && key.indexOf(scopePrefix) === 0 &&
          /^(\d+)(:edits)?$/.exec(key.slice(scopePrefix.length));
        if (!found || Number(found[1]) <= Number(thisPage)) { return; }
        var entry = storedRows(key);
        if (found[2]) {
          var own = storedRows(editsKey);
          var rows = withEarlier((entry && entry.rows) || [], (own && own.rows) || []);
          sessionStorage.setItem(editsKey, JSON.stringify({ at: (own || entry).at, rows: rows }));
          sessionStorage.removeItem(key);
        } else if (!readDraft()) { // a Save of its own: taken over unless this page has one
          sessionStorage.setItem(draftKey, JSON.stringify(entry));
          sessionStorage.removeItem(key);
        }
      });
    } catch (e) { /* storage disabled: nothing kept */ }
  }
  adoptPagesPastTheEnd();
  noteKeptElsewhere(keptElsewhere());

  tbody.addEventListener("input", keepEditsSoon);
  tbody.addEventListener("change", keepEditsSoon);
  window.addEventListener("pagehide", keepEdits);

  form.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    saveId.value = newSaveId();
    // The edits kept so far are among this Save's rows: dropped first, so that the draft has
    // the room they took. Both at once could be over the tab's storage (the 10 MB or so a
    // browser allows): the draft was then not kept, the edits were dropped after it, and a
    // Save refused as too large had nothing left to offer back.
    unstore(editsKey);
    keepDraft(); // this Save's rows replace the draft's: an unanswered draft's join the offer
    if (waitingDraft) { offered = withEarlier(waitingDraft, offered || []); waitingDraft = null; }
    keepOfferedOnly();
  });
  window.addEventListener("pageshow", function () { saveId.value = ""; });
  var draft = readDraft();
  if (form.dataset.saved !== undefined) {
    dropDraft(); // the server answered a Save with this grid: what it kept is on the page
    offerEdits(); // rows an offer still waited to put back when that Save was sent
    if (rows().some(unsaved)) {
      markDirty(null); // rows it could not write: leaving the page warns, and they are kept
    }
    keepEdits();
  } else if (draft && draft.rows && draft.rows.length) {
    if (tooOld(draft) || !draft.saveId) {
      dropDraft();
    } else {
      fetch(form.dataset.saveStatus.replace("SAVE_ID", draft.saveId), { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (status) { if (status && status.state) { settleDraft(draft, status.state); } })
        .catch(function () { /* not answered (logged out?): the draft waits for the next load */ });
    }
  }
  if (form.dataset.saved === undefined) { offerEdits(); }

  // ---- After a Save: take the keyboard to the summary -----------------------------------
  var summary = document.getElementById("save-summary");
  if (summary) { summary.focus(); }
}());
