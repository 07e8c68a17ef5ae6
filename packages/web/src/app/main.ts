/** EmojisOnly: the entry point. Unlock or register, then chat. */
import { Device } from "./device.js";
import { ChatScreen } from "./ui/chat.js";
import { showRegister, showUnlock, type OnboardingHooks } from "./ui/onboarding.js";

const root = document.getElementById("app");
if (root === null) throw new Error("index.html has no #app");

const hooks: OnboardingHooks = {
  ready: (device, recoveryCode) => {
    new ChatScreen(root, device, start, recoveryCode);
  },
};

function start(): void {
  const profile = Device.profile();
  if (profile === undefined) showRegister(root!, hooks);
  else showUnlock(root!, profile, hooks);
}

start();
