// The portal's instant filter and copy buttons. The page works without them: the filter is a GET
// form the server applies, and the command line is written out below the accounts.
(function () {
  "use strict";
  var form = document.getElementById("filter"), q = document.getElementById("q"), portal = document.getElementById("portal");
  if (!form || !q || !portal) return;
  var status = document.getElementById("filter-status"), none = document.getElementById("no-match");
  var roles = [].slice.call(portal.querySelectorAll("li[data-r]"));
  var total = portal.querySelectorAll("li.account li[data-r]").length;

  // What a role matches on, as the server's filter: account alias, ID and label, and role name.
  roles.forEach(function (li) {
    var a = li.hasAttribute("data-a") ? li : li.closest("li.account");
    li._a = a;
    li._text = [a.dataset.a, a.dataset.id, a.dataset.l, li.dataset.r].join(" ").toLowerCase();
  });

  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
    roles.forEach(function (li) {
      li.hidden = !words.every(function (w) { return li._text.indexOf(w) >= 0; });
      if (!li.hidden && li._a !== li) shown++;
    });
    // A list, a card, a group or a section at the top shows when something in it does.
    portal.querySelectorAll("li.account, section").forEach(function (el) {
      el.hidden = !el.querySelector("li[data-r]:not([hidden])");
    });
    none.hidden = shown > 0;
    status.textContent = shown + " of " + total + " roles";
    var url = new URL(location.href);
    if (q.value.trim()) url.searchParams.set("q", q.value.trim()); else url.searchParams.delete("q");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    portal.querySelectorAll("input[name=q]").forEach(function (el) { el.value = q.value.trim(); });
  }
  q.addEventListener("input", apply);
  q.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && q.value) { q.value = ""; apply(); }
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });
  // A star keeps the filter: the hidden q field of the star form follows what was typed.
  if (!portal.querySelector("input[name=q]")) {
    var keep = document.createElement("input");
    keep.type = "hidden"; keep.name = "q"; keep.value = q.value.trim();
    portal.insertBefore(keep, portal.firstChild);
  }

  // A star is set in place, keeping the focus where it is; the lists at the top follow at the next
  // visit. Anything but the server's redirect falls back to the form, which shows the error.
  portal.addEventListener("click", function (e) {
    var b = e.target.closest("button.star");
    if (!b) return;
    e.preventDefault();
    if (b.busy) return; // not disabled: that would take the focus away
    var body = new URLSearchParams(new FormData(portal));
    body.set(b.name, b.value);
    b.busy = true;
    fetch(portal.action, {method: "POST", body: body, redirect: "manual", credentials: "same-origin"}).then(function (res) {
      b.busy = false;
      if (res.type !== "opaqueredirect") { portal.requestSubmit(b); return; }
      var on = b.name === "add";
      portal.querySelectorAll("button.star").forEach(function (s) {
        if (s.value !== b.value) return;
        s.name = on ? "remove" : "add";
        s.setAttribute("aria-pressed", on ? "true" : "false");
        s.textContent = on ? "\u2605" : "\u2606";
      });
    }, function () { b.busy = false; portal.requestSubmit(b); });
  });

  function quote(s) { return /^[A-Za-z0-9_.,:\/@%+=-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'"; }

  function copyButton(text, label, what) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "copy"; b.textContent = label;
    b.setAttribute("aria-label", what);
    b.addEventListener("click", function () {
      // The name keeps the visible text in it, so that speech input finds the button either way.
      var done = function () {
        b.textContent = "Copied"; b.setAttribute("aria-label", "Copied" + what.slice(label.length));
        setTimeout(function () { b.textContent = label; b.setAttribute("aria-label", what); }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallback(text) && done(); });
      } else if (fallback(text)) {
        done();
      }
    });
    return b;
  }
  // Copying without the clipboard API (a page on plain http that is not localhost).
  function fallback(text) {
    var t = document.createElement("textarea");
    t.value = text; t.setAttribute("readonly", ""); t.className = "offscreen";
    document.body.appendChild(t); t.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    t.remove();
    return ok;
  }

  var base = portal.dataset.base;
  portal.querySelectorAll("li.account").forEach(function (a) {
    a.querySelector("h3").appendChild(copyButton(a.dataset.id, "Copy ID", "Copy ID " + a.dataset.id + " of account " + a.dataset.a));
  });
  roles.forEach(function (li) {
    var a = li._a, cmd = "rolegate login --url " + quote(base) + " --account " + quote(a.dataset.a) + " --role " + quote(li.dataset.r);
    li.querySelector(".meta").after(copyButton(cmd, "Copy CLI", "Copy CLI: the rolegate login command for " + a.dataset.a + " " + li.dataset.r));
  });
  if (q.value) apply();
})();
