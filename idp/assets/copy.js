// Copy buttons: a button with data-copy="ID" copies the text of the list (or element) ID, one item
// a line. The button stays hidden without script; the Download link needs none.
(function () {
  "use strict";
  function text(el) {
    var items = el.querySelectorAll("li");
    if (!items.length) return el.textContent.trim();
    return Array.prototype.map.call(items, function (li) { return li.textContent.trim(); }).join("\n") + "\n";
  }
  function say(msg) {
    var s = document.getElementById("copy-status");
    if (s) s.textContent = msg;
  }
  // execCommand works where the Clipboard API does not (plain http on another host).
  function fallback(value) {
    var ta = document.createElement("textarea");
    ta.value = value;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var src = document.getElementById(btn.getAttribute("data-copy"));
    if (!src) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var value = text(src);
      var done = function () { say("Copied to the clipboard."); };
      var failed = function () {
        if (fallback(value)) done(); else say("Copying did not work here: select the codes, or use Download.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(done, failed);
      } else {
        failed();
      }
    });
  });
})();
