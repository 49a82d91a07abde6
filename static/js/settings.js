// The Settings page: "Test connection" lists the provider's models, "Test tag
// server" runs validate_tags — both with the values currently in the form.
(function () {
  "use strict";
  const form = document.getElementById("settings-form");
  if (!form) return;

  function values(names) {
    const body = {};
    names.forEach(function (name) {
      const el = form.elements[name];
      if (!el) return;
      body[name] = el.type === "checkbox" ? el.checked : el.value;
    });
    return body;
  }

  function post(url, body) {
    return GAZE.fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); });
  }

  function show(box, ok, text) {
    box.className = "small mt-2 " + (ok ? "text-success" : "text-danger");
    box.textContent = text;
  }

  const llmBox = document.getElementById("llm-test-result");
  document.getElementById("test-llm").addEventListener("click", function (ev) {
    const button = ev.currentTarget;
    button.disabled = true;
    show(llmBox, true, "Asking the provider for its models…");
    post("/api/settings/test_llm", values(["provider", "base_url", "model", "api_key", "tag_mode", "tag_csv", "tag_server"]))
      .then(function (res) {
        const ok = res[0], body = res[1];
        if (!ok) { show(llmBox, false, body.error || "The test failed."); return; }
        const list = document.getElementById("model-list");
        list.innerHTML = "";
        body.models.forEach(function (m) {
          const opt = document.createElement("option");
          opt.value = m;
          list.appendChild(opt);
        });
        show(llmBox, true, body.provider + " answered: " + body.models.length + " model(s)" +
             (body.model_listed ? "" : " (the chosen model is not among them)") + ".");
        const ul = document.createElement("ul");
        ul.className = "list-unstyled mb-0 mt-1 model-list font-monospace";
        ul.id = "model-names";
        body.models.slice(0, 200).forEach(function (m) {
          const li = document.createElement("li");
          const pick = document.createElement("button");
          pick.type = "button";
          pick.className = "btn btn-link btn-sm p-0";
          pick.textContent = m;
          pick.addEventListener("click", function () { form.elements.model.value = m; });
          li.appendChild(pick);
          ul.appendChild(li);
        });
        llmBox.appendChild(ul);
      })
      .catch(function () { show(llmBox, false, "Could not reach GAZE."); })
      .finally(function () { button.disabled = false; });
  });

  const tagBox = document.getElementById("tags-test-result");
  document.getElementById("test-tags").addEventListener("click", function (ev) {
    const button = ev.currentTarget;
    button.disabled = true;
    show(tagBox, true, "Calling validate_tags…");
    post("/api/settings/test_tags", values(["provider", "base_url", "model", "tag_mode", "tag_csv", "tag_server", "tag_legacy"]))
      .then(function (res) {
        const ok = res[0], body = res[1];
        if (!ok) { show(tagBox, false, body.error || "The test failed."); return; }
        const r = body.result || {};
        show(tagBox, true, body.server + " answered: valid " + JSON.stringify(r.valid || []) +
             ", unknown " + JSON.stringify(r.invalid || []) + ".");
      })
      .catch(function () { show(tagBox, false, "Could not reach GAZE."); })
      .finally(function () { button.disabled = false; });
  });
})();
