// Detail pages: select all / none of the prompt field checkboxes.
(function () {
  "use strict";
  document.querySelectorAll("[data-fields]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      const on = btn.dataset.fields === "all";
      btn.closest("form").querySelectorAll('input[name="include_field"]').forEach(function (c) { c.checked = on; });
    });
  });
})();
