// The message template page: re-render the preview while the merchant types (a file, not an
// inline script, so the Content-Security-Policy can keep scripts to this origin).
(function () {
  var form = document.getElementById("template-form"), timer = null;
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var data = new FormData(form); data.set("action", "preview");
      // getAttribute: the form's "action" property is shadowed by its button named "action".
      fetch(form.getAttribute("action") || location.href, {method: "POST", body: data, headers: {"X-Preview": "1"}})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html) document.getElementById("preview").outerHTML = html; });
    }, 300);
  });
})();
