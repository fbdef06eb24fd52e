import { z } from "zod";

/**
 * `mail.queue`: the shared spool's delivery queue. Retries back off exponentially from
 * `retryInitialMs` to `retryMaxMs` (each delay with ±25 % jitter); a message still undelivered after
 * `maxAgeDays` bounces. A replica whose lease (`leaseMs`) runs out is taken for dead and the
 * others deliver what it held.
 */
export const mailQueueSchema = z
  .strictObject({
    maxAgeDays: z.number().positive().max(60).default(5),
    retryInitialMs: z.number().int().min(100).max(86_400_000).default(60_000),
    retryMaxMs: z
      .number()
      .int()
      .min(100)
      .max(7 * 86_400_000)
      .default(3_600_000),
    leaseMs: z.number().int().min(1000).max(3_600_000).default(60_000),
    /** Messages one replica relays at once. */
    concurrency: z.number().int().min(1).max(256).default(8),
  })
  .refine((q) => q.retryMaxMs >= q.retryInitialMs, {
    error: "retryMaxMs must not be below retryInitialMs",
    path: ["retryMaxMs"],
  });

export type MailQueueConfig = z.infer<typeof mailQueueSchema>;
