import type { User } from "../../auth/model";
import { currentSession, getJson, onSessionChange, signOut } from "./api";
import { fill, h } from "./dom";
import { clearNotices, noticeArea, showError, showInfo } from "./notices";
import { signInView } from "./signin";
import { workspace } from "./workspace";

/** The page: a header with who is signed in, the notices, then the sign-in forms or the workspace. */
function main(root: HTMLElement): void {
  const who = h("span", { class: "who" });
  const signOutButton = h("button", { type: "button", class: "button quiet", hidden: true }, "Sign out");
  const content = h("main", { id: "main", tabindex: "-1" });
  fill(
    root,
    h("a", { class: "skip-link", href: "#main" }, "Skip to content"),
    h(
      "header",
      { class: "topbar" },
      h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }), h("span", {}, "Memory Mesh"), h("span", { class: "brand-sub" }, "explorer")),
      h("div", { class: "session" }, who, signOutButton),
    ),
    noticeArea,
    content,
  );

  let stopWorkspace: (() => void) | null = null;
  const show = () => {
    stopWorkspace?.();
    stopWorkspace = null;
    const session = currentSession();
    signOutButton.hidden = !session;
    if (!session) {
      who.textContent = "";
      fill(content, signInView());
      (content.querySelector("input") as HTMLInputElement | null)?.focus();
      return;
    }
    who.textContent = session.kind === "apikey" ? "API key" : "Signed in";
    getJson<User>("/v1/auth/me")
      .then((user) => {
        // Still signed in (a refresh may have replaced the session object meanwhile).
        if (currentSession()?.kind === session.kind) who.textContent = session.kind === "apikey" ? `API key of ${user.email}` : user.email;
      })
      .catch((error) => showError("Could not read the account", error));
    const space = workspace();
    stopWorkspace = space.stop;
    fill(content, space.element);
    void space.start();
  };

  signOutButton.addEventListener("click", async () => {
    clearNotices();
    await signOut();
    showInfo("Signed out.");
  });
  onSessionChange((session) => {
    if (session) clearNotices();
    show();
    // The form that had the focus is gone: start from the top of what replaced it.
    if (session) content.focus();
  });
  show();
}

const root = document.getElementById("app");
if (root) main(root);
