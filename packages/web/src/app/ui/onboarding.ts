/**
 * The screens before the chat: create an account, add this browser as a
 * further device of one, or unlock the device this browser already holds.
 */
import { Device, type Profile } from "../device.js";
import { describeError, h, replace } from "./dom.js";

export interface OnboardingHooks {
  /** The device is open; `accountSecret` is set once, right after a new account. */
  ready(device: Device, accountSecret?: string): void;
}

function field(label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  return h("label", { class: "field" }, h("span", {}, label), input, hint === undefined ? null : h("small", {}, hint));
}

function card(...children: (Node | string | null)[]): HTMLElement {
  return h("main", { class: "onboarding" }, h("section", { class: "card" }, h("h1", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "🙊"), "EmojisOnly"), ...children));
}

/** A form whose submit button shows progress and whose errors show under it. */
function form(label: string, testid: string, inputs: HTMLElement[], run: () => Promise<void>): HTMLFormElement {
  const error = h("p", { class: "error", role: "alert", "data-testid": "onboarding-error" });
  const button = h("button", { type: "submit", class: "primary", "data-testid": testid }, label);
  const f = h("form", {}, ...inputs, button, error);
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    button.disabled = true;
    button.textContent = "Working…";
    error.textContent = "";
    run()
      .catch((e) => {
        error.textContent = describeError(e);
      })
      .finally(() => {
        button.disabled = false;
        button.textContent = label;
      });
  });
  return f;
}

export function showRegister(root: HTMLElement, hooks: OnboardingHooks): void {
  let mode: "new" | "device" = "new";
  const user = h("input", { name: "user", required: true, autocomplete: "username", pattern: "[a-z0-9._\\-]{1,32}", placeholder: "alice", "data-testid": "user" });
  const device = h("input", { name: "device", required: true, value: "browser", pattern: "[A-Za-z0-9._\\-]{1,32}", "data-testid": "device" });
  const pass = h("input", { name: "passphrase", type: "password", required: true, minlength: "8", autocomplete: "new-password", "data-testid": "passphrase" });
  const secret = h("input", { name: "accountSecret", autocomplete: "off", "data-testid": "account-secret" });
  const secretField = field("Account secret", secret, "Shown on your first device when you created the account.");
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const body = h("div");
  const render = () => {
    secret.required = mode === "device";
    replace(
      tabs,
      h("button", { type: "button", role: "tab", "aria-selected": String(mode === "new"), onclick: () => ((mode = "new"), render()), "data-testid": "tab-new" }, "New account"),
      h("button", { type: "button", role: "tab", "aria-selected": String(mode === "device"), onclick: () => ((mode = "device"), render()), "data-testid": "tab-device" }, "Add this device"),
    );
    replace(
      body,
      form(mode === "new" ? "Create account" : "Add this device", "register", [
        field("User name", user, "Lower-case letters, digits, . _ -"),
        field("This device", device),
        field("Passphrase", pass, "Encrypts this device's keys and messages in this browser. At least 8 characters."),
        mode === "device" ? secretField : null,
      ].filter((x): x is HTMLElement => x !== null), async () => {
        const r = await Device.register({ user: user.value.trim(), device: device.value.trim(), passphrase: pass.value, ...(mode === "device" ? { accountSecret: secret.value.trim() } : {}) });
        hooks.ready(r.device, mode === "new" ? r.accountSecret : undefined);
      }),
    );
  };
  render();
  replace(root, card(h("p", { class: "tagline" }, "Group chat where only emojis pass. End-to-end encrypted with MLS."), tabs, body));
}

export function showUnlock(root: HTMLElement, profile: Profile, hooks: OnboardingHooks): void {
  const pass = h("input", { name: "passphrase", type: "password", required: true, autocomplete: "current-password", autofocus: true, "data-testid": "passphrase" });
  const forget = h(
    "button",
    {
      type: "button",
      class: "link",
      "data-testid": "forget",
      onclick: () => {
        if (!confirm("Remove this device's keys, groups and messages from this browser?")) return;
        void Device.forget().then(() => showRegister(root, hooks));
      },
    },
    "Use another account",
  );
  replace(
    root,
    card(
      h("p", { class: "tagline" }, "Welcome back, ", h("strong", {}, profile.user), ` (${profile.device}).`),
      form("Unlock", "unlock", [field("Passphrase", pass)], async () => hooks.ready(await Device.unlock(pass.value))),
      forget,
    ),
  );
}
