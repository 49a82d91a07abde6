// The shared JSON editor modal: a simple form of the entry's values and the
// raw JSON. Saves the whole entry as a JSON body to the opener's data-save-url.
(function () {
  "use strict";
  const modalEl = document.getElementById("json-editor");
  const opener = document.querySelector("[data-json-editor]");
  const source = document.getElementById("entry-json");
  if (!modalEl || !opener || !source || !window.bootstrap) return;
  const modal = bootstrap.Modal.getOrCreateInstance(modalEl);
  const simple = document.getElementById("json-simple");
  const raw = document.getElementById("json-raw");
  const errorBox = document.getElementById("json-error");
  const saveBtn = document.getElementById("json-save");
  const idKey = opener.dataset.idKey;
  let data = {};
  let tab = "simple";

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function isStringList(v) {
    return Array.isArray(v) && v.every(function (x) { return typeof x === "string"; });
  }

  function field(path, value, label) {
    const wrap = document.createElement("div");
    wrap.className = "mb-2";
    const id = "je-" + path.join("-").replace(/[^A-Za-z0-9_-]/g, "_");
    const lab = document.createElement("label");
    lab.className = "form-label small mb-0";
    lab.htmlFor = id;
    lab.textContent = label;
    let input;
    if (typeof value === "boolean") {
      wrap.className = "form-check mb-2";
      input = document.createElement("input");
      input.type = "checkbox"; input.className = "form-check-input"; input.checked = value;
      input.dataset.type = "bool";
      lab.className = "form-check-label small";
      input.id = id; wrap.appendChild(input); wrap.appendChild(lab);
    } else {
      if (typeof value === "string" && value.length > 80) {
        input = document.createElement("textarea"); input.rows = 2;
      } else {
        input = document.createElement("input");
        input.type = typeof value === "number" ? "number" : "text";
        if (typeof value === "number") input.step = "any";
      }
      input.className = "form-control form-control-sm";
      input.value = isStringList(value) ? value.join(", ") : String(value);
      input.dataset.type = typeof value === "number" ? "number" : (isStringList(value) ? "list" : "string");
      input.id = id; wrap.appendChild(lab); wrap.appendChild(input);
      if (isStringList(value)) {
        const hint = document.createElement("div"); hint.className = "form-text small"; hint.textContent = "Comma-separated list";
        wrap.appendChild(hint);
      }
    }
    input.dataset.path = JSON.stringify(path);
    if (path.length === 1 && path[0] === idKey) { input.readOnly = true; input.title = "The id cannot be changed here"; }
    return wrap;
  }

  function walk(obj, path, container) {
    Object.keys(obj).forEach(function (key) {
      const value = obj[key];
      const here = path.concat([key]);
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const fs = document.createElement("fieldset");
        fs.className = "border rounded p-2 mb-2";
        const legend = document.createElement("legend");
        legend.className = "fs-6 fw-semibold mb-1"; legend.textContent = here.join(" › ");
        fs.appendChild(legend);
        walk(value, here, fs);
        container.appendChild(fs);
      } else if (value === null || (Array.isArray(value) && !isStringList(value))) {
        const note = document.createElement("p");
        note.className = "small text-secondary mb-2";
        note.textContent = here.join(" › ") + ": edit in the Raw JSON tab";
        container.appendChild(note);
      } else {
        container.appendChild(field(here, value, key));
      }
    });
  }

  function buildForm() {
    simple.textContent = "";
    walk(data, [], simple);
  }

  function readForm() {
    const copy = JSON.parse(JSON.stringify(data));
    simple.querySelectorAll("[data-path]").forEach(function (input) {
      const path = JSON.parse(input.dataset.path);
      let target = copy;
      for (let i = 0; i < path.length - 1; i++) target = target[path[i]];
      const key = path[path.length - 1];
      const type = input.dataset.type;
      if (type === "bool") target[key] = input.checked;
      else if (type === "number") {
        const n = Number(input.value);
        if (input.value.trim() === "" || Number.isNaN(n)) throw new Error(path.join(" › ") + " must be a number");
        target[key] = n;
      } else if (type === "list") {
        target[key] = input.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      } else target[key] = input.value;
    });
    return copy;
  }

  function switchTo(next) {
    showError("");
    if (next === tab) return true;
    if (next === "raw") {
      try { data = readForm(); } catch (e) { showError(e.message); return false; }
      raw.value = JSON.stringify(data, null, 2);
    } else {
      let parsed;
      try { parsed = JSON.parse(raw.value); } catch (e) { showError("Invalid JSON: " + e.message); return false; }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) { showError("The entry must be a JSON object."); return false; }
      data = parsed;
      buildForm();
    }
    showTab(next);
    return true;
  }

  function showTab(next) {
    tab = next;
    modalEl.querySelectorAll("[data-tab]").forEach(function (b) { b.classList.toggle("active", b.dataset.tab === tab); });
    modalEl.querySelectorAll("[data-pane]").forEach(function (p) { p.hidden = p.dataset.pane !== tab; });
  }

  modalEl.querySelectorAll("[data-tab]").forEach(function (b) {
    b.addEventListener("click", function () { switchTo(b.dataset.tab); });
  });

  opener.addEventListener("click", function () {
    data = JSON.parse(source.textContent);
    buildForm();
    raw.value = JSON.stringify(data, null, 2);
    showError("");
    showTab("simple");
    modal.show();
  });

  saveBtn.addEventListener("click", function () {
    showError("");
    let body;
    if (tab === "raw") {
      try { JSON.parse(raw.value); } catch (e) { showError("Invalid JSON: " + e.message + ". Nothing was saved."); return; }
      body = raw.value;
    } else {
      try { body = JSON.stringify(readForm()); } catch (e) { showError(e.message); return; }
    }
    saveBtn.disabled = true;
    GAZE.fetch(opener.dataset.saveUrl, {method: "POST", headers: {"Content-Type": "application/json"}, body: body})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (res[0] && res[1].ok) { window.location.reload(); return; }
        showError((res[1].error || "Could not save.") + " Nothing was saved.");
      })
      .catch(function () { showError("Could not reach GAZE. Nothing was saved."); })
      .finally(function () { saveBtn.disabled = false; });
  });
})();
