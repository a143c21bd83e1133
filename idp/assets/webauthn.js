// Security keys and passkeys: a form marked data-webauthn="login" or "register" fetches options
// from its data-begin URL, asks the browser's authenticator, and posts the answer as "credential".
"use strict";
(function () {
  function decode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }).buffer;
  }
  function encode(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function ids(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: decode(c.id) }); });
  }
  async function begin(form) {
    var body = new URLSearchParams({ csrf_token: form.elements.csrf_token.value });
    if (form.elements.invite) body.set("invite", form.elements.invite.value); // a first factor's enrolment code
    var resp = await fetch(form.dataset.begin, { method: "POST", body: body, credentials: "same-origin" });
    var data = await resp.json();
    if (!resp.ok) throw new Error(data.error || "the server refused");
    return data.publicKey;
  }
  async function register(form) {
    var pk = await begin(form);
    pk.challenge = decode(pk.challenge);
    pk.user.id = decode(pk.user.id);
    pk.excludeCredentials = ids(pk.excludeCredentials);
    var cred = await navigator.credentials.create({ publicKey: pk });
    return {
      id: cred.id, rawId: encode(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: encode(cred.response.clientDataJSON),
        attestationObject: encode(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : []
      }
    };
  }
  async function login(form) {
    var pk = await begin(form);
    pk.challenge = decode(pk.challenge);
    pk.allowCredentials = ids(pk.allowCredentials);
    var cred = await navigator.credentials.get({ publicKey: pk });
    var r = cred.response;
    return {
      id: cred.id, rawId: encode(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: encode(r.clientDataJSON),
        authenticatorData: encode(r.authenticatorData),
        signature: encode(r.signature),
        userHandle: r.userHandle ? encode(r.userHandle) : undefined
      }
    };
  }
  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var error = form.querySelector("[data-webauthn-error]");
    if (!window.PublicKeyCredential) {
      error.textContent = "This browser cannot use security keys.";
      error.hidden = false;
      form.querySelector("button").disabled = true;
      return;
    }
    form.addEventListener("submit", async function (ev) {
      if (form.elements.credential.value) return; // the answer is in: post it
      ev.preventDefault();
      error.hidden = true;
      try {
        var cred = await (form.dataset.webauthn === "register" ? register(form) : login(form));
        form.elements.credential.value = JSON.stringify(cred);
        form.submit();
      } catch (e) {
        error.textContent = "The security key did not answer: " + (e && e.message ? e.message : e) + ". Try again.";
        error.hidden = false;
      }
    });
  });
})();
