/**
 * `node --import <this>` with CPU_PROF_FILE set: a V8 CPU profile of the whole process, written to
 * that file at exit (--cpu-prof for processes started with NODE_OPTIONS, where --cpu-prof is refused).
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";

const { env } = process;
const file = env.CPU_PROF_FILE;
if (file) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
  process.once("exit", () => {
    // On the main thread the inspector answers synchronously: the file is written before exit.
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(file, JSON.stringify(result.profile));
    });
  });
}
