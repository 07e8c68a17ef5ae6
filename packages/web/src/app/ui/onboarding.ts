/**
 * The screens before the chat: create an account, add this browser as a
 * further device of one, or unlock the device this browser already holds.
 */
import { Device, type Enrolment, type PendingLink, type Profile } from "../device.js";
import { describeError, h, replace } from "./dom.js";

export interface OnboardingHooks {
  /** The device is open; `recoveryCode` is set once, right after a new account. */
  ready(device: Device, recoveryCode?: string): void;
}

function field(label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  return h("label", { class: "field" }, h("span", {}, label), input, hint === undefined ? null : h("small", {}, hint));
}

function card(...children: (Node | string | null)[]): HTMLElement {
  return h(
    "main",
    { class: "onboarding" },
    h("section", { class: "card" }, h("h1", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "🙊"), "EmojisOnly"), ...children),
  );
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

type Mode = "new" | "link" | "recover";
const TABS: readonly (readonly [Mode, string])[] = [
  ["new", "New account"],
  ["link", "Link this device"],
  ["recover", "Recover"],
];

export function showRegister(root: HTMLElement, hooks: OnboardingHooks): void {
  let mode: Mode = "new";
  const user = h("input", { name: "user", required: true, autocomplete: "username", pattern: "[a-z0-9._\\-]{1,32}", placeholder: "alice", "data-testid": "user" });
  const device = h("input", { name: "device", required: true, value: "browser", pattern: "[A-Za-z0-9._\\-]{1,32}", "data-testid": "device" });
  const pass = h("input", { name: "passphrase", type: "password", required: true, minlength: "8", autocomplete: "new-password", "data-testid": "passphrase" });
  const invite = h("input", { name: "invite", autocomplete: "off", "data-testid": "invite" });
  const recovery = h("input", { name: "recoveryCode", required: true, autocomplete: "off", "data-testid": "recovery-code" });
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const body = h("div");
  const common = () => [
    field("User name", user, "Lower-case letters, digits, . _ -"),
    field("This device", device),
    field("Passphrase", pass, "Encrypts this device's keys and messages in this browser. At least 8 characters."),
  ];
  const render = () => {
    const select = (m: Mode) => {
      mode = m;
      render();
    };
    replace(tabs, ...TABS.map(([m, label]) => h("button", { type: "button", role: "tab", "aria-selected": String(mode === m), onclick: () => select(m), "data-testid": `tab-${m}` }, label)));
    const who = () => ({ user: user.value.trim(), device: device.value.trim(), passphrase: pass.value });
    const enrol = async (e: Enrolment) => {
      const r = await Device.enrol(e);
      hooks.ready(r.device, r.recoveryCode);
    };
    const forms: Record<Mode, () => HTMLFormElement> = {
      new: () =>
        form("Create account", "register", [...common(), field("Invite", invite, "The invite token your server's admin gave you (empty on an open server).")], () =>
          enrol({ kind: "new", ...who(), invite: invite.value.trim() }),
        ),
      recover: () =>
        form("Recover account", "register", [...common(), field("Recovery code", recovery, "The code shown when the account was created. Your old devices' groups are not recovered.")], () =>
          enrol({ kind: "recover", ...who(), recoveryCode: recovery.value.trim() }),
        ),
      link: () =>
        form("Request link", "register", common(), async () => {
          const w = who();
          showLinkWait(root, hooks, await Device.link(w.user, w.device, w.passphrase));
        }),
    };
    replace(body, forms[mode]());
  };
  render();
  replace(root, card(h("p", { class: "tagline" }, "Group chat where only emojis pass. End-to-end encrypted with MLS."), tabs, body));
}

/** The new device waits: it shows what to paste on the approving device and the code both must show. */
function showLinkWait(root: HTMLElement, hooks: OnboardingHooks, link: PendingLink): void {
  const status = h("p", { class: "tagline", role: "status", "data-testid": "link-status" }, "Waiting for approval…");
  const cancel = () => {
    link.cancel();
    showRegister(root, hooks);
  };
  replace(
    root,
    card(
      h("p", {}, "On a device where you are signed in, choose ", h("strong", {}, "Approve a new device"), " and paste:"),
      h("textarea", { class: "payload", readonly: true, rows: "4", "data-testid": "link-payload", onclick: (ev) => (ev.target as HTMLTextAreaElement).select() }, link.payload),
      h("p", {}, "Both screens must show this code: ", h("strong", { class: "code", "data-testid": "link-code" }, link.code)),
      status,
      h("button", { type: "button", class: "link", onclick: cancel }, "Cancel"),
    ),
  );
  link.done.then(
    (device) => hooks.ready(device),
    (e) => {
      status.textContent = `Linking failed: ${describeError(e)}`;
    },
  );
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
