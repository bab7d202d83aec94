import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A disk of a few megabytes for one test, to run a database out of space for real: a tmpfs
 * mounted on a temporary folder. Mounting needs root; smallDiskUnavailable() says why not.
 */
export interface SmallDisk {
  readonly path: string;
  /** Takes every free byte with a file of its own, so that the next write that needs space fails with ENOSPC. */
  fill(): void;
  /** Deletes what fill() wrote. */
  free(): void;
  /** Unmounts the disk and removes its folder. */
  remove(): void;
}

const FILLER = ".filler";

/** Null when this process can mount a small disk, else why it cannot. */
export function smallDiskUnavailable(): string | null {
  return process.getuid?.() === 0 ? null : "mounting a tmpfs needs root";
}

export function mountSmallDisk(sizeMb: number, owner?: { uid: number; gid: number }): SmallDisk {
  const path = mkdtempSync(join(tmpdir(), "taskq-small-disk-"));
  const options = [`size=${sizeMb}m`, "mode=0755", ...(owner ? [`uid=${owner.uid}`, `gid=${owner.gid}`] : [])].join(",");
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", path], { encoding: "utf8" });
  if (mounted.status !== 0) {
    rmSync(path, { recursive: true, force: true });
    throw new Error(`mount -t tmpfs failed: ${mounted.stderr || mounted.error?.message}`);
  }
  const filler = join(path, FILLER);
  return {
    path,
    fill() {
      const fd = openSync(filler, "a");
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (let size = chunk.length; size >= 1; ) {
          try {
            writeSync(fd, chunk, 0, size);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
            // What is left is smaller than this write: fill it with smaller ones.
            size = Math.floor(size / 2);
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    remove() {
      spawnSync("umount", ["-l", path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}
