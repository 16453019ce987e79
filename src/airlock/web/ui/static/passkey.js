// The only script of the web UI: the WebAuthn ceremony (navigator.credentials needs it).
// Every page works without it except "Add a passkey" and the "... with a passkey" buttons.
"use strict";

async function passkeyOptions(url, form) {
  const body = new URLSearchParams({ csrf: form.querySelector("input[name=csrf]").value });
  const resp = await fetch(url, { method: "POST", body, credentials: "same-origin" });
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

function passkeyError(form, message) {
  let p = form.querySelector(".passkey-error");
  if (!p) {
    p = document.createElement("p");
    p.className = "error passkey-error";
    p.setAttribute("role", "alert");
    form.prepend(p);
  }
  p.textContent = message;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-passkey]")) {
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const form = button.form;
      try {
        const got = await passkeyOptions(button.dataset.options, form);
        let credential;
        if (button.dataset.passkey === "register") {
          const options = PublicKeyCredential.parseCreationOptionsFromJSON(got.publicKey);
          credential = await navigator.credentials.create({ publicKey: options });
        } else {
          const options = PublicKeyCredential.parseRequestOptionsFromJSON(got.publicKey);
          credential = await navigator.credentials.get({ publicKey: options });
        }
        form.querySelector("input[name=passkey_handle]").value = got.handle;
        form.querySelector("input[name=passkey_response]").value = JSON.stringify(credential.toJSON());
        if (button.dataset.decision) {
          form.querySelector("input[name=passkey_decision]").value = button.dataset.decision;
        }
        for (const input of form.querySelectorAll("input[name=code]")) input.required = false;
        form.submit();
      } catch (err) {
        passkeyError(form, "The passkey did not work: " + err.message);
      }
    });
  }
});
