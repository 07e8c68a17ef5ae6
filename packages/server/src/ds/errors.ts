/** DS-specific error bodies. */
import { ApiError, type ErrorBody } from "@conclave/api";

/** 409 EPOCH_MISMATCH with the group's current epoch, so the client can catch up (RFC 9750 §5.2). */
export class EpochMismatchError extends ApiError {
  constructor(
    readonly currentEpoch: number,
    messageEpoch: bigint,
  ) {
    super("EPOCH_MISMATCH", `message is for epoch ${messageEpoch}, the group is at epoch ${currentEpoch}`);
  }

  override toBody(): ErrorBody {
    const body = super.toBody();
    return { error: { ...body.error, currentEpoch: this.currentEpoch } as ErrorBody["error"] };
  }
}
