// "Show prompt" panels (templates/_macros/prompt_preview.html).
// Asks POST /generator/preview_prompt for the composed prompts and shows every
// tag coloured by its source, tags removed by cross de-duplication struck
// through, and the 75-token CLIP chunk boundaries of the positive prompt.
// Safe to load more than once; all text goes in through textContent.
(function () {
  "use strict";
  if (window.GAZE_PROMPT_PREVIEW) { return; }
  window.GAZE_PROMPT_PREVIEW = true;

  const LIST_FIELDS = ["outfits", "actions", "styles", "scenes", "detailers"];
  const COLOURS = {
    characters: "#6ea8fe", looks: "#c29ffa", outfits: "#ffda6a", actions: "#75b798",
    styles: "#f783ac", scenes: "#6edff6", detailers: "#feb272", checkpoint: "#adb5bd",
    user: "#ffffff", rule: "#a3cfbb", template: "#adb5bd", unknown: "#dee2e6"
  };
  const LABELS = {
    characters: "character", looks: "look", outfits: "outfit", actions: "action", styles: "style",
    scenes: "scene", detailers: "detailer", checkpoint: "checkpoint base prompt",
    user: "your extra text", rule: "added by a rule", template: "workflow template", unknown: "unknown"
  };

  function sourceKey(source) {
    if (!source) { return "unknown"; }
    if (source.kind === "asset") { return COLOURS[source.category] ? source.category : "unknown"; }
    return COLOURS[source.kind] ? source.kind : "unknown";
  }

  function describe(source) {
    if (!source) { return "unknown source"; }
    switch (source.kind) {
      case "asset": return LABELS[source.category] + " '" + source.slug + "' · " + source.field;
      case "checkpoint": return "checkpoint " + source.path + " · " + source.field;
      case "user": return "your " + source.field.replace("_", " ");
      case "rule": return "rule: " + source.rule + (source.slug ? " (" + source.slug + ")" : "");
      default: return source.kind || "unknown source";
    }
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function requestBody(root) {
    const params = new URLSearchParams();
    const selector = root.dataset.form;
    const form = selector ? document.querySelector(selector) : null;
    if (form) {
      new FormData(form).forEach(function (value, key) {
        if (typeof value === "string" && key !== "csrf_token") { params.append(key, value); }
      });
    }
    let fixed = {};
    try { fixed = JSON.parse(root.dataset.fields || "{}"); } catch (e) { fixed = {}; }
    Object.keys(fixed).forEach(function (key) {
      const value = fixed[key];
      if (value === null || value === undefined) { return; }
      if (LIST_FIELDS.indexOf(key) >= 0) {
        (Array.isArray(value) ? value : [value]).forEach(function (v) {
          if (params.getAll(key).indexOf(String(v)) < 0) { params.append(key, String(v)); }
        });
      } else {
        params.set(key, String(value));
      }
    });
    return params;
  }

  function tagElement(tag) {
    const span = document.createElement("span");
    span.className = "pp-tag pp-src-" + sourceKey(tag.source) + (tag.removed_by_dedup ? " pp-removed" : "");
    span.textContent = tag.tag;
    span.title = describe(tag.source) + (tag.removed_by_dedup ? " — removed by cross de-duplication" : "");
    return span;
  }

  function renderTags(box, tags, boundaries) {
    box.replaceChildren();
    const starts = {};
    (boundaries || []).forEach(function (b, i) { starts[b.tag_index] = i + 2; });
    let kept = 0;
    tags.forEach(function (tag) {
      if (!tag.removed_by_dedup) {
        if (starts[kept]) {
          const mark = document.createElement("span");
          mark.className = "pp-chunk";
          mark.textContent = "chunk " + starts[kept];
          mark.title = "a new 75-token CLIP chunk starts here";
          box.appendChild(mark);
        }
        kept += 1;
      }
      box.appendChild(tagElement(tag));
    });
    if (!tags.length) { box.textContent = "(empty)"; }
  }

  function renderLegend(box, tags) {
    box.replaceChildren();
    const seen = {};
    tags.forEach(function (t) { seen[sourceKey(t.source)] = true; });
    Object.keys(seen).forEach(function (key) {
      const span = document.createElement("span");
      span.className = "pp-tag pp-src-" + key;
      span.textContent = LABELS[key] || key;
      box.appendChild(span);
    });
    const struck = document.createElement("span");
    struck.className = "pp-tag pp-removed";
    struck.textContent = "removed by de-dup";
    box.appendChild(struck);
  }

  function render(root, data) {
    const q = function (name) { return root.querySelector("[data-pp-" + name + "]"); };
    const positive = data.tags.filter(function (t) { return t.side === "positive"; });
    const negative = data.tags.filter(function (t) { return t.side === "negative"; });
    renderTags(q("positive"), positive, data.tokens.boundaries);
    renderTags(q("negative"), negative, []);
    q("face").textContent = data.face || "(empty)";
    q("hand").textContent = data.hand || "(empty)";
    const loras = q("loras");
    loras.replaceChildren();
    data.loras.forEach(function (l) {
      const li = document.createElement("li");
      li.textContent = "node " + l.node + ": " + l.lora_name + " @ " + l.strength;
      loras.appendChild(li);
    });
    (data.unwired_loras || []).forEach(function (l) {
      const li = document.createElement("li");
      li.className = "text-body-secondary";
      li.textContent = "not wired: " + l.lora_name + " (" + l.reason + ")";
      loras.appendChild(li);
    });
    if (!loras.children.length) { loras.textContent = "none"; }
    const t = data.tokens;
    q("tokens").textContent = "· " + (t.estimate ? "≈" : "") + t.total + " tokens, " + t.chunks +
      " chunk" + (t.chunks === 1 ? "" : "s") + " of " + t.chunk_size + (t.estimate ? " (estimate)" : "");
    q("tokens").title = t.method || "";
    const warnings = q("warnings");
    warnings.replaceChildren();
    (data.warnings || []).forEach(function (w) {
      const div = document.createElement("div");
      div.className = "alert alert-warning py-1 px-2 mb-2";
      div.textContent = w;
      warnings.appendChild(div);
    });
    renderLegend(q("legend"), data.tags);
    q("status").textContent = "Seed " + data.seed + (data.checkpoint ? " · " + data.checkpoint : "");
  }

  function load(root) {
    const status = root.querySelector("[data-pp-status]");
    status.textContent = "Loading…";
    fetch(root.dataset.url, {
      method: "POST", credentials: "same-origin", body: requestBody(root),
      headers: {"X-CSRFToken": csrfToken(), "X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
    }).then(function (resp) {
      return resp.json().catch(function () { return {error: "HTTP " + resp.status}; }).then(function (data) {
        if (!resp.ok || data.error) { throw new Error(data.error || ("HTTP " + resp.status)); }
        render(root, data);
      });
    }).catch(function (err) {
      status.textContent = "Could not compose the prompt: " + err.message;
    });
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-pp-button], [data-pp-refresh]");
    if (!button) { return; }
    const root = button.closest("[data-prompt-preview]");
    if (!root) { return; }
    const panel = root.querySelector("[data-pp-panel]");
    if (button.hasAttribute("data-pp-button")) {
      const open = panel.classList.toggle("d-none") === false;
      button.setAttribute("aria-expanded", String(open));
      if (!open) { return; }
    }
    load(root);
  });
})();
