import { MemoryMeshError } from "./errors.js";
import { type CallOptions, segment, type Transport } from "./transport.js";
import type { DataJob } from "./types.js";
import { poll, type WaitOptions } from "./waiting.js";

/** Data jobs: deleting by filter and erasing a tenant run in the background on the server's workers. */
export class Jobs {
  constructor(private readonly http: Transport) {}

  get(id: string, options: CallOptions = {}): Promise<DataJob> {
    return this.http.json({ method: "GET", path: `/v1/jobs/${segment(id)}`, auth: true, repeatable: true, signal: options.signal });
  }

  /**
   * The job once `completed` (default timeout 5 minutes). Throws MemoryMeshError `job_failed` (with
   * the job's `error`, the job in `details`) when it failed, `timeout` when it takes longer.
   */
  waitForJob(job: string | Pick<DataJob, "id">, options: WaitOptions = {}): Promise<DataJob> {
    const id = typeof job === "string" ? job : job.id;
    return poll(`job ${id}`, options, 300_000, async (signal) => {
      const current = await this.get(id, { signal });
      if (current.status === "failed") throw new MemoryMeshError({ status: 0, code: "job_failed", message: current.error ?? `Job ${id} failed`, details: current });
      return current.status === "completed" ? current : undefined;
    });
  }
}
