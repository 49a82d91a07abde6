// GAZE page helpers: CSRF for AJAX. Every state-changing fetch sends the token.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.GAZE = window.GAZE || {};
  GAZE.csrfToken = meta ? meta.content : "";
  GAZE.fetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({"X-CSRFToken": GAZE.csrfToken, "X-Requested-With": "XMLHttpRequest"},
                                    options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  };
})();
