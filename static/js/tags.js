// Tag fields ([data-tag-check]): autocomplete from the tag server (/api/tags/suggest)
// and a mark on tags it does not know (/api/tags/validate). Without a tag server
// both endpoints answer checked: false and nothing happens.
(function () {
  "use strict";
  window.GAZE = window.GAZE || {};
  let available = true;   // false once the server says there is no tag server

  function splitTags(text) {
    const out = [];
    let depth = 0, current = "";
    for (let i = 0; i < text.length; i++) {
      const ch = text[i], escaped = i > 0 && text[i - 1] === "\\";
      if ("([{".indexOf(ch) >= 0 && !escaped) depth++;
      else if (")]}".indexOf(ch) >= 0 && !escaped) depth = Math.max(0, depth - 1);
      if (ch === "," && depth === 0) { out.push(current); current = ""; } else { current += ch; }
    }
    out.push(current);
    return out.map(function (t) { return t.trim(); }).filter(Boolean);
  }

  function markUnknown(el, unknown) {
    const wrap = el.closest("[data-field]") || el.parentElement;
    let note = wrap.querySelector("[data-unknown-for]");
    el.classList.toggle("tag-unknown", unknown.length > 0);
    if (!unknown.length) { if (note) note.remove(); return; }
    if (!note) {
      note = document.createElement("div");
      note.className = "form-text small text-warning";
      note.dataset.unknownFor = el.name;
      el.insertAdjacentElement("afterend", note);
    }
    note.textContent = "Unknown tags: " + unknown.join(", ");
  }

  function validate(fields) {
    if (!available) return Promise.resolve();
    const perField = fields.map(function (el) { return [el, splitTags(el.value)]; });
    const all = [];
    perField.forEach(function (pair) { pair[1].forEach(function (t) { if (all.indexOf(t) < 0) all.push(t); }); });
    if (!all.length) { perField.forEach(function (pair) { markUnknown(pair[0], []); }); return Promise.resolve(); }
    return GAZE.fetch("/api/tags/validate", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify({tags: all.slice(0, 300)})})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (!body.checked) { available = false; return; }
        const unknown = new Set(body.unknown || []);
        perField.forEach(function (pair) {
          markUnknown(pair[0], pair[1].filter(function (t) { return unknown.has(t); }));
        });
      })
      .catch(function () { /* tag checks are a convenience: stay silent */ });
  }

  function fieldsOf(root) { return Array.from((root || document).querySelectorAll("[data-tag-check]")); }

  GAZE.tagcheck = {
    check: function (el) { return validate([el]); },
    checkAll: function (root) { return validate(fieldsOf(root)); },
  };

  // ---- autocomplete
  let menu = null, owner = null, active = -1, timer = null, seq = 0;

  function closeMenu() {
    if (menu) menu.remove();
    menu = null; owner = null; active = -1;
  }

  function fragmentStart(text) {
    const cut = text.lastIndexOf(",");
    let start = cut + 1;
    while (start < text.length && " ([{".indexOf(text[start]) >= 0) start++;
    return start;
  }

  function apply(el, name) {
    const caret = el.selectionStart === null ? el.value.length : el.selectionStart;
    const before = el.value.slice(0, caret), after = el.value.slice(caret);
    const start = fragmentStart(before);
    const tag = /^[\W_]+$/.test(name) ? name : name.replace(/_/g, " ");
    const rest = after.replace(/^[^,]*/, "");
    el.value = before.slice(0, start) + tag + (rest ? rest : ", ");
    const pos = start + tag.length + (rest ? 0 : 2);
    el.setSelectionRange(pos, pos);
    closeMenu();
    el.focus();
  }

  function highlight(i) {
    if (!menu) return;
    const items = menu.querySelectorAll("button");
    active = (i + items.length) % items.length;
    items.forEach(function (b, j) { b.classList.toggle("active", j === active); });
  }

  function show(el, hits) {
    closeMenu();
    if (!hits.length || document.activeElement !== el) return;
    menu = document.createElement("div");
    menu.className = "list-group tag-suggest shadow";
    menu.setAttribute("role", "listbox");
    hits.forEach(function (hit) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "list-group-item list-group-item-action py-1 px-2 small d-flex gap-2";
      b.setAttribute("role", "option");
      b.dataset.tag = hit.name;
      const name = document.createElement("span");
      name.textContent = hit.name.replace(/_/g, " ");
      const count = document.createElement("span");
      count.className = "ms-auto text-secondary";
      count.textContent = hit.post_count ? Number(hit.post_count).toLocaleString() : "";
      b.appendChild(name); b.appendChild(count);
      b.addEventListener("mousedown", function (ev) { ev.preventDefault(); apply(el, hit.name); });
      menu.appendChild(b);
    });
    el.insertAdjacentElement("afterend", menu);
    owner = el;
  }

  function suggest(el) {
    if (!available) return;
    const caret = el.selectionStart === null ? el.value.length : el.selectionStart;
    const before = el.value.slice(0, caret);
    if (before.slice(fragmentStart(before)).trim().length < 2) { closeMenu(); return; }
    const mine = ++seq;
    fetch("/api/tags/suggest?limit=8&q=" + encodeURIComponent(before.slice(-200)), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (mine !== seq) return;
        if (!body.checked) { available = false; closeMenu(); return; }
        show(el, body.suggestions || []);
      })
      .catch(function () { closeMenu(); });
  }

  document.addEventListener("input", function (ev) {
    const el = ev.target;
    if (!el.matches || !el.matches("[data-tag-check]") || !ev.isTrusted) return;
    clearTimeout(timer);
    timer = setTimeout(function () { suggest(el); }, 180);
  });
  document.addEventListener("keydown", function (ev) {
    if (!menu || ev.target !== owner) return;
    if (ev.key === "ArrowDown") { ev.preventDefault(); highlight(active + 1); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); highlight(active - 1); }
    else if ((ev.key === "Enter" || ev.key === "Tab") && active >= 0) {
      ev.preventDefault();
      apply(owner, menu.querySelectorAll("button")[active].dataset.tag);
    } else if (ev.key === "Escape") { closeMenu(); }
  });
  document.addEventListener("focusout", function (ev) {
    const el = ev.target;
    if (!el.matches || !el.matches("[data-tag-check]")) return;
    setTimeout(function () { if (owner === el) closeMenu(); }, 150);
    validate([el]);
  });
  document.addEventListener("DOMContentLoaded", function () {
    const fields = fieldsOf(document).filter(function (el) { return el.value.trim(); });
    if (fields.length) validate(fields);
  });
})();
