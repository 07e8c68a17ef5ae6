/** passive-client-handling-commit.json: follow commits of every kind (Add/Update/Remove/PSK/GroupContextExtensions, by value and by reference, with and without path), every suite, both providers. */
import { describePassiveClientVectors } from "./passive-client-support.js";

describePassiveClientVectors("passive-client-handling-commit");
