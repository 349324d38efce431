// On every page: action buttons (cancel, retry, reprocess) and copy buttons.
import { post } from "./api.js";

function showError(message) {
  const box = document.querySelector("[data-action-error]");
  if (box) {
    box.textContent = message;
    box.hidden = false;
  } else {
    window.alert(message);
  }
}

async function runAction(button) {
  button.disabled = true;
  try {
    const answer = await post(button.dataset.url);
    if (button.dataset.action === "retry" && answer.id) {
      window.location.assign(`/builds/${answer.id}`);
    } else if (button.dataset.then === "reload") {
      window.location.reload();
    }
  } catch (error) {
    showError(`${button.textContent.trim()} failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

async function copy(button) {
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    field.select();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
}

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const action = target?.closest("button[data-action]");
  if (action) {
    event.preventDefault();
    runAction(action);
    return;
  }
  const copier = target?.closest("button[data-copy]");
  if (copier) copy(copier);
});
