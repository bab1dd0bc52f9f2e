import { h, uid } from "./dom";

/**
 * Asks before something that cannot be undone, in a modal `<dialog>` (focus stays inside it,
 * Escape cancels). Resolves true only when the confirming button is pressed.
 */
export function confirmAction(title: string, text: string, confirmLabel: string): Promise<boolean> {
  const titleId = uid("dialog-title");
  const textId = uid("dialog-text");
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const confirm = h("button", { type: "button", class: "button danger" }, confirmLabel);
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": titleId, "aria-describedby": textId },
    h("h2", { id: titleId }, title),
    h("p", { id: textId }, text),
    h("div", { class: "dialog-actions" }, cancel, confirm),
  );
  document.body.append(dialog);
  const opener = document.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    const finish = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      opener?.focus();
      resolve(answer);
    };
    cancel.addEventListener("click", () => finish(false));
    confirm.addEventListener("click", () => finish(true));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.showModal();
    // The safe choice has the focus: Enter does not delete by accident.
    cancel.focus();
  });
}
