/** passive-client-random.json: 200 epochs of random Adds (by reference) and Removes, with and without path, both providers. */
import { describePassiveClientVectors } from "./passive-client-support.js";

describePassiveClientVectors("passive-client-random");
