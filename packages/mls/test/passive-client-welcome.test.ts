/** passive-client-welcome.json: join from a Welcome (tree in the Welcome or given apart, with and without PSKs), every suite, both providers. */
import { describePassiveClientVectors } from "./passive-client-support.js";

describePassiveClientVectors("passive-client-welcome");
