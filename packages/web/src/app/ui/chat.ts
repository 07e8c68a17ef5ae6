/**
 * The chat screen: groups on the left, the open group's conversation, its
 * members and safety number on the right, and an emoji-only composer. Events
 * come live from the SDK's iterator (DS WebSocket push, polling as fallback);
 * every message that breaks the emoji rule is dropped and reported in place.
 */
import type { ClientEvent } from "@conclave/client";
import type { Device } from "../device.js";
import { checkEmojiOnly, PALETTE } from "../emojiRule.js";
import type { Line } from "../history.js";
import { describeError, deviceOf, h, replace, userOf } from "./dom.js";

export class ChatScreen {
  #open: string | undefined;
  /** Messages received in groups other than the open one, since they were last open. */
  readonly #unread = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #leaving = new Set<string>();
  readonly #sidebar = h("nav", { class: "groups", "data-testid": "groups" });
  readonly #pane = h("section", { class: "conversation" });
  readonly #toast = h("div", { class: "toast", role: "status", "data-testid": "toast" });
  readonly #approvePanel = this.#approveForm();

  constructor(
    root: HTMLElement,
    private readonly device: Device,
    private readonly onLock: () => void,
    recoveryCode?: string,
  ) {
    const c = device.client;
    replace(
      root,
      h(
        "div",
        { class: "app" },
        h(
          "aside",
          { class: "sidebar" },
          h(
            "header",
            { class: "me" },
            h("span", { class: "logo", "aria-hidden": "true" }, "🙊"),
            h("div", {}, h("strong", { "data-testid": "me" }, c.user), h("small", {}, deviceOf(c.identity))),
          ),
          recoveryCode === undefined
            ? null
            : h(
                "div",
                { class: "secret", "data-testid": "recovery-panel" },
                h("p", {}, "Recovery code — write it down and keep it offline. It lets you back in if you lose every device. It is shown only now."),
                h("code", { "data-testid": "recovery-code-value" }, recoveryCode),
                h("button", { class: "ghost small", onclick: (ev) => (ev.target as HTMLElement).closest(".secret")?.remove() }, "I wrote it down"),
              ),
          this.#approvePanel,
          h("button", { class: "primary", "data-testid": "new-group", onclick: () => void this.#act(() => this.#createGroup()) }, "+ New group"),
          this.#sidebar,
          h(
            "footer",
            {},
            h("button", { class: "ghost", "data-testid": "approve-device", onclick: () => this.#approvePanel.toggleAttribute("hidden") }, "Approve a new device"),
            h(
              "button",
              { class: "ghost", "data-testid": "add-own-devices", title: "Add your other devices to every group you are in", onclick: () => void this.#act(() => this.#addOwnDevices()) },
              "Bring in my other devices",
            ),
            h("button", { class: "ghost", "data-testid": "lock", onclick: () => this.lock() }, "Lock"),
          ),
        ),
        this.#pane,
        this.#toast,
      ),
    );
    this.#open = c.groups[0];
    void this.#render();
    void this.#listen();
  }

  lock(): void {
    this.#abort.abort();
    this.device.lock();
    this.onLock();
  }

  // ---------------------------------------------------------------------------
  // Live events

  async #listen(): Promise<void> {
    const c = this.device.client;
    while (!this.#abort.signal.aborted) {
      try {
        for await (const ev of c.events({ signal: this.#abort.signal, pollMs: 3000 })) await this.#onEvent(ev);
      } catch (e) {
        if (this.#abort.signal.aborted) return;
        console.error("EmojisOnly: event loop", e);
        this.#say(`Connection trouble: ${describeError(e)}. Retrying…`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  async #onEvent(ev: ClientEvent): Promise<void> {
    const hist = this.device.history;
    const me = this.device.client.identity;
    switch (ev.type) {
      case "message": {
        // The rule of the app: anything but emojis is dropped and reported, never shown.
        if (checkEmojiOnly(ev.text).ok) await hist.append(ev.groupId, { kind: "message", sender: ev.sender, text: ev.text, at: Date.now(), own: ev.sender === me });
        else await hist.append(ev.groupId, { kind: "dropped", sender: ev.sender, at: Date.now() });
        if (ev.groupId !== this.#open) this.#unread.set(ev.groupId, (this.#unread.get(ev.groupId) ?? 0) + 1);
        break;
      }
      case "joined":
        await hist.append(ev.groupId, { kind: "notice", text: `You joined. Members: ${ev.members.map(userOf).join(", ")}`, at: Date.now() });
        this.#open ??= ev.groupId;
        break;
      case "membership": {
        if (ev.selfRemoved) {
          this.#leaving.delete(ev.groupId);
          this.#say("You are no longer in a group.");
          if (this.#open === ev.groupId) this.#open = this.device.client.groups[0];
          break;
        }
        const parts = [ev.added.length > 0 ? `added ${ev.added.map(label).join(", ")}` : "", ev.removed.length > 0 ? `removed ${ev.removed.map(label).join(", ")}` : ""].filter(
          (p) => p !== "",
        );
        if (parts.length > 0) await hist.append(ev.groupId, { kind: "notice", text: `${label(ev.by)} ${parts.join(" and ")}`, at: Date.now() });
        break;
      }
      case "untrusted":
        await hist.append(ev.groupId, { kind: "notice", text: `⚠ The AS does not vouch for ${ev.member}: ${ev.reason}`, at: Date.now() });
        break;
      case "error":
        await hist.append(ev.groupId, { kind: "notice", text: `⚠ A message could not be processed: ${describeError(ev.error)}`, at: Date.now() });
        break;
    }
    await this.#render();
  }

  // ---------------------------------------------------------------------------
  // Actions

  /** Runs an action, showing its error instead of failing silently. */
  async #act(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.#say(describeError(e));
    }
    await this.#render();
  }

  async #createGroup(): Promise<void> {
    const g = await this.device.client.createGroup();
    await this.device.history.append(g, { kind: "notice", text: "You created this group. Add people by their user name.", at: Date.now() });
    this.#open = g;
  }

  async #addUser(groupId: string, user: string): Promise<void> {
    const added = await this.device.client.addUser(groupId, user);
    const text = added.length === 0 ? `${user}'s devices are all here already` : `You added ${added.map(label).join(", ")}`;
    await this.device.history.append(groupId, { kind: "notice", text, at: Date.now() });
  }

  async #remove(groupId: string, user: string): Promise<void> {
    const gone = await this.device.client.removeMember(groupId, user);
    await this.device.history.append(groupId, { kind: "notice", text: `You removed ${gone.map(label).join(", ")}`, at: Date.now() });
  }

  async #leave(groupId: string): Promise<void> {
    if (!confirm("Leave this group? Another member's app completes it.")) return;
    await this.device.client.leave(groupId);
    this.#leaving.add(groupId);
    await this.device.history.append(groupId, { kind: "notice", text: "You asked to leave; waiting for another member's app to commit it.", at: Date.now() });
  }

  async #addOwnDevices(): Promise<void> {
    const added = Object.values(await this.device.client.addOwnDevices()).flat();
    this.#say(added.length === 0 ? "No new devices of yours to bring in." : `Brought in ${[...new Set(added.map(deviceOf))].join(", ")}.`);
  }

  async #send(groupId: string, text: string): Promise<void> {
    const verdict = checkEmojiOnly(text);
    if (!verdict.ok) throw new Error("Only emojis pass here.");
    const normal = verdict.emojis.join(" ");
    await this.device.client.send(groupId, normal);
    await this.device.history.append(groupId, { kind: "message", sender: this.device.client.identity, text: normal, at: Date.now(), own: true });
  }

  /** Device linking on this (existing) device: paste the new device's request, compare codes, then bring it into our groups. */
  #approveForm(): HTMLElement {
    const payload = h("textarea", { rows: "3", placeholder: "Paste the link request shown on the new device", "data-testid": "approve-payload" });
    const result = h("p", { class: "approved", role: "status", "data-testid": "approve-result" });
    const f = h("form", { class: "approve", hidden: true }, payload, h("button", { type: "submit", class: "primary", "data-testid": "approve-submit" }, "Approve"), result);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.#act(async () => {
        const r = await this.device.client.approveDevice(payload.value.trim());
        payload.value = "";
        result.replaceChildren("Approved ", h("strong", {}, r.device), ". Its screen must show the code ", h("strong", { class: "code", "data-testid": "approve-code" }, r.code), ".");
        void this.#bringIn(r.device, r.expiresAt);
      });
    });
    return f;
  }

  /** Once the approved device has registered (it polls the AS), add it to every group we are in. */
  async #bringIn(deviceName: string, until: number): Promise<void> {
    while (!this.#abort.signal.aborted && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 2000));
      try {
        const added = Object.values(await this.device.client.addOwnDevices()).flat();
        if (added.some((id) => deviceOf(id) === deviceName)) {
          this.#say(`Brought ${deviceName} into your groups.`);
          this.#approvePanel.setAttribute("hidden", "");
          await this.#render();
          return;
        }
        // Not registered yet, or in no group of ours: nothing to add, try again.
        if (this.device.client.groups.length === 0) return;
      } catch (e) {
        this.#say(describeError(e));
      }
    }
  }

  #say(text: string): void {
    this.#toast.textContent = text;
    this.#toast.classList.add("show");
    setTimeout(() => this.#toast.classList.remove("show"), 4000);
  }

  // ---------------------------------------------------------------------------
  // Rendering

  #select(groupId: string): void {
    this.#open = groupId;
    this.#unread.delete(groupId);
    void this.#render();
  }

  #title(groupId: string): string {
    const others = [...new Set(this.device.client.members(groupId).map(userOf))].filter((u) => u !== this.device.client.user);
    if (others.length > 0) return others.join(", ");
    return this.device.client.members(groupId).length > 1 ? "Just your devices" : "Just you";
  }

  async #render(): Promise<void> {
    const c = this.device.client;
    const groups = c.groups;
    if (this.#open !== undefined && !groups.includes(this.#open)) this.#open = groups[0];
    replace(
      this.#sidebar,
      groups.length === 0 ? h("p", { class: "empty" }, "No groups yet.") : null,
      ...groups.map((g) =>
        h(
          "button",
          { class: g === this.#open ? "group active" : "group", "data-testid": "group-item", "data-group": g, onclick: () => this.#select(g) },
          this.#title(g),
          this.#unread.has(g) ? h("span", { class: "badge", "data-testid": "unread", "aria-label": "unread messages" }, String(this.#unread.get(g))) : null,
        ),
      ),
    );
    const unread = [...this.#unread.values()].reduce((a, b) => a + b, 0);
    document.title = unread > 0 ? `(${unread}) EmojisOnly` : "EmojisOnly";
    const g = this.#open;
    if (g === undefined) {
      replace(this.#pane, h("div", { class: "placeholder" }, h("p", { class: "big" }, "👋 🙊 💬"), h("p", {}, "Create a group, or wait to be added to one.")));
      return;
    }
    replace(this.#pane, this.#header(g), h("div", { class: "body" }, await this.#messages(g), this.#members(g)), this.#composer(g));
    this.#pane.querySelector(".messages")?.scrollTo({ top: 1e9 });
  }

  #header(g: string): HTMLElement {
    const c = this.device.client;
    const addInput = h("input", { placeholder: "user name", "aria-label": "User name to add", "data-testid": "add-user-input" });
    const addForm = h("form", { class: "add" }, addInput, h("button", { type: "submit", "data-testid": "add-user" }, "Add"));
    addForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const user = addInput.value.trim();
      if (user !== "") void this.#act(() => this.#addUser(g, user));
    });
    return h(
      "header",
      { class: "group-header" },
      h(
        "div",
        {},
        h("h2", { "data-testid": "group-title" }, this.#title(g)),
        h(
          "p",
          { class: "safety" },
          "Safety number ",
          h("code", { "data-testid": "safety-number", title: "Equal on every member's screen for this epoch: compare it in person" }, c.safetyNumber(g)),
          ` · epoch ${c.group(g).epoch}`,
        ),
      ),
      addForm,
      h(
        "button",
        { class: "ghost danger", "data-testid": "leave", disabled: this.#leaving.has(g), onclick: () => void this.#act(() => this.#leave(g)) },
        this.#leaving.has(g) ? "Leaving…" : "Leave",
      ),
    );
  }

  async #messages(g: string): Promise<HTMLElement> {
    const lines = await this.device.history.lines(g);
    return h("ol", { class: "messages", "data-testid": "messages" }, ...lines.map((l) => lineView(l)));
  }

  #members(g: string): HTMLElement {
    const c = this.device.client;
    const byUser = new Map<string, string[]>();
    for (const id of c.members(g)) byUser.set(userOf(id), [...(byUser.get(userOf(id)) ?? []), deviceOf(id)]);
    return h(
      "aside",
      { class: "members", "data-testid": "members" },
      h("h3", {}, "Members"),
      h(
        "ul",
        {},
        ...[...byUser].map(([user, devices]) =>
          h(
            "li",
            { "data-testid": "member", "data-user": user },
            h("span", {}, h("strong", {}, user === c.user ? `${user} (you)` : user), h("small", {}, devices.join(", "))),
            user === c.user
              ? null
              : h("button", { class: "ghost danger small", "data-testid": "remove-member", title: `Remove ${user}`, onclick: () => void this.#act(() => this.#remove(g, user)) }, "Remove"),
          ),
        ),
      ),
    );
  }

  #composer(g: string): HTMLElement {
    const input = h("input", { class: "compose", placeholder: "Emojis only 🙂", "aria-label": "Message", autocomplete: "off", "data-testid": "composer" });
    const send = h("button", { type: "submit", class: "primary", disabled: true, "data-testid": "send" }, "Send");
    const hint = h("small", { class: "hint", "data-testid": "composer-hint" });
    const check = () => {
      const v = checkEmojiOnly(input.value);
      send.disabled = !v.ok;
      hint.textContent = v.ok || v.reason === "empty" ? "" : v.reason === "too-long" ? "That is a lot of emojis: 32 at most." : `Only emojis pass here — “${v.offending ?? ""}” is not one.`;
      input.classList.toggle("invalid", !v.ok && v.reason !== "empty");
    };
    input.addEventListener("input", check);
    const pick = (emoji: string) => {
      input.value += emoji;
      check();
      input.focus();
    };
    const palette = h("div", { class: "palette", "data-testid": "palette" }, ...PALETTE.map((e) => h("button", { type: "button", onclick: () => pick(e) }, e)));
    const f = h("form", { class: "composer" }, palette, h("div", { class: "row" }, input, send), hint);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (send.disabled) return;
      const text = input.value;
      input.value = "";
      check();
      void this.#act(() => this.#send(g, text));
    });
    queueMicrotask(() => input.focus());
    return f;
  }
}

const label = (identity: string) => `${userOf(identity)} (${deviceOf(identity)})`;
const time = (at: number) => new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

function lineView(l: Line): HTMLElement {
  switch (l.kind) {
    case "message":
      return h(
        "li",
        { class: l.own ? "msg own" : "msg", "data-testid": "message", "data-sender": userOf(l.sender) },
        l.own ? null : h("span", { class: "from" }, label(l.sender)),
        h("span", { class: "bubble" }, l.text),
        h("time", {}, time(l.at)),
      );
    case "notice":
      return h("li", { class: "notice", "data-testid": "notice" }, l.text);
    case "dropped":
      return h("li", { class: "dropped", "data-testid": "dropped" }, `🚫 Dropped a message from ${label(l.sender)}: it was not only emojis.`);
  }
}
