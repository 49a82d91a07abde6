// "Draft with AI": send the description to /api/draft/<category>, then fill the
// page's form with the draft (nothing is saved until the user presses Save).
(function () {
  "use strict";
  const card = document.getElementById("draft-card");
  if (!card) return;
  const form = document.getElementById(card.dataset.form);
  const button = document.getElementById("draft-button");
  const description = document.getElementById("draft-description");
  const result = document.getElementById("draft-result");
  const errorBox = document.getElementById("draft-error");
  if (!form || !button || !description) return;

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  function text(value) {
    if (value === null || value === undefined) return "";
    if (Array.isArray(value)) return value.join(", ");
    return String(value);
  }

  const notes = [];

  function setField(name, value) {
    const el = form.elements[name];
    if (!el || el.readOnly || el.disabled || el.type === "file") return;
    if (el.type === "checkbox") {
      el.checked = value === true || String(value).toLowerCase() === "true";
    } else if (el.tagName === "SELECT") {
      const wanted = typeof value === "boolean" ? String(value) : text(value);
      const match = Array.from(el.options).find(function (o) { return o.value === wanted || o.value === wanted.toLowerCase(); });
      if (match) el.value = match.value;
      else if (wanted) notes.push(name + ": the draft's \u201c" + wanted + "\u201d is not offered; kept " + el.value);
    } else {
      el.value = text(value);
    }
    el.dispatchEvent(new Event("input", {bubbles: true}));
  }

  function fill(draft) {
    notes.length = 0;
    Object.keys(draft).forEach(function (key) {
      const value = draft[key];
      if (key === "wardrobe" && isObject(value) && Object.keys(value).length &&
          Object.values(value).every(isObject) && form.elements._outfit) {
        const names = Object.keys(value);
        const shown = names.indexOf(draft.active_outfit) >= 0 ? draft.active_outfit
          : (names.indexOf("default") >= 0 ? "default" : names[0]);
        form.elements._outfit.value = shown;
        Object.keys(value[shown]).forEach(function (k) { setField("wardrobe." + k, value[shown][k]); });
        if (names.length > 1) {
          notes.push("The draft has " + names.length + " outfits (" + names.join(", ") + "); the form shows \u201c" +
                     shown + "\u201d and the others are saved with the entry.");
        }
      } else if (isObject(value)) {
        Object.keys(value).forEach(function (k) { setField(key + "." + k, value[k]); });
      } else {
        setField(key, value);
      }
    });
    const base = document.getElementById("draft-base");
    if (base) base.value = JSON.stringify(draft);
  }

  function showError(message, raw) {
    document.getElementById("draft-error-text").textContent = message;
    const rawBox = document.getElementById("draft-raw-box");
    document.getElementById("draft-raw").textContent = raw || "";
    rawBox.hidden = !raw;
    errorBox.hidden = false;
  }

  function showResult(body) {
    result.innerHTML = "";
    const lines = ["Draft filled in below: check it, adjust it and save."];
    if (!body.tags_checked) lines.push("Tags are unchecked" + (body.note ? " (" + body.note + ")" : "") + ".");
    else if (body.unknown_tags.length) lines.push("Tags the tag server does not know: " + body.unknown_tags.join(", ") + ".");
    else lines.push("Every tag is known to the tag server.");
    lines.concat(notes).forEach(function (line, i) {
      const p = document.createElement("div");
      p.textContent = line;
      if (i > 0 && line.indexOf("Tags the tag server") === 0) { p.className = "text-warning"; p.id = "draft-unknown-tags"; }
      result.appendChild(p);
    });
    result.hidden = false;
  }

  button.addEventListener("click", function () {
    const wanted = description.value.trim();
    errorBox.hidden = true;
    result.hidden = true;
    if (!wanted) { showError("Describe the entry first."); description.focus(); return; }
    const body = {description: wanted};
    if (card.dataset.checkpointPath) body.checkpoint_path = card.dataset.checkpointPath;
    if (form.elements.character_id && form.elements.character_id.value) body.character_id = form.elements.character_id.value;
    button.disabled = true;
    const label = button.textContent;
    button.textContent = "Drafting…";
    GAZE.fetch(card.dataset.draftUrl, {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (!res[0]) { showError(res[1].error || "The draft failed.", res[1].raw); return; }
        fill(res[1].draft);
        showResult(res[1]);
        if (window.GAZE.tagcheck) GAZE.tagcheck.checkAll(form);
      })
      .catch(function () { showError("Could not reach GAZE."); })
      .finally(function () { button.disabled = false; button.textContent = label; });
  });
})();
