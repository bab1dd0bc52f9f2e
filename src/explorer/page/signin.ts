import { signInWithApiKey, signInWithPassword } from "./api";
import { h, uid } from "./dom";
import { clearNotices, showError } from "./notices";

function field(label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  const id = uid("field");
  input.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

/** Disables a form's controls while `work` runs, so a double press sends nothing twice. */
async function busy(form: HTMLFormElement, work: () => Promise<void>): Promise<void> {
  const controls = [...form.elements] as HTMLInputElement[];
  for (const control of controls) control.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await work();
  } finally {
    for (const control of controls) control.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

/** Email and password (POST /v1/auth/login), or an API key; the page switches to the workspace once signed in. */
export function signInView(): HTMLElement {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const key = h("input", { type: "password", name: "api-key", autocomplete: "off", spellcheck: "false", required: true });

  const passwordForm = h(
    "form",
    { class: "card signin-form", "aria-labelledby": "signin-password-title", method: "post" },
    h("h2", { id: "signin-password-title" }, "Sign in"),
    field("Email", email),
    field("Password", password),
    h("button", { type: "submit", class: "button primary" }, "Sign in"),
  );
  passwordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotices();
    void busy(passwordForm, () => signInWithPassword(email.value.trim(), password.value).catch((error) => showError("Could not sign in", error)));
  });

  const keyForm = h(
    "form",
    { class: "card signin-form", "aria-labelledby": "signin-key-title", method: "post" },
    h("h2", { id: "signin-key-title" }, "Or use an API key"),
    field("API key", key, "A key with the read scope browses and searches; deleting needs write."),
    h("button", { type: "submit", class: "button" }, "Use this key"),
  );
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearNotices();
    void busy(keyForm, () => signInWithApiKey(key.value.trim()).catch((error) => showError("The API key was not accepted", error)));
  });

  return h(
    "section",
    { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", class: "signin-title" }, "Memory explorer"),
    h(
      "p",
      { class: "lead" },
      "See what this Memory Mesh stores: tenants, conversations and messages as workers index them; search them, export or delete them. ",
      "Your credential stays in this browser tab and is sent only to this server.",
    ),
    h("div", { class: "signin-forms" }, passwordForm, keyForm),
  );
}
