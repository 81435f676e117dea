/**
 * What a scenario gets from the runner: options, a logger, scratch filesystems and a python peer
 * that are released when the scenario ends (even when it throws), and interleaved rounds.
 */
import {
  type Scratch,
  type ScratchImages,
  type ScratchOptions,
  scratchBtrfs,
  scratchImages,
} from '../test/helpers/scratch';
import { interleave, type Options, PythonPeer, type Samples } from './util';

export interface Variant {
  name: string;
  run: () => Promise<void> | void;
}

export interface Ctx {
  opts: Options;
  log(line: string): void;
  /** A mounted scratch btrfs (mkfs.btrfs on a loop device), torn down at the scenario's end. */
  scratch(options?: ScratchOptions): Scratch;
  /** Image files (not attached), swept (unmounted, detached, removed) at the scenario's end. */
  images(options?: { count?: number; size?: number; mkfs?: string[] | false }): ScratchImages;
  /** The scenario's python3-btrfsutil process, started on first use. */
  python(): PythonPeer;
  /** One unrecorded warm-up of each variant, then `runs` shuffled rounds recorded into `samples`. */
  interleave(runs: number, variants: Variant[], samples: Samples): Promise<void>;
}

export class ScenarioContext implements Ctx {
  private readonly cleanups: (() => void)[] = [];
  private peer: PythonPeer | undefined;

  constructor(
    readonly opts: Options,
    readonly log: (line: string) => void,
  ) {}

  scratch(options?: ScratchOptions): Scratch {
    const s = scratchBtrfs(options);
    this.cleanups.push(() => s.cleanup());
    return s;
  }

  images(options?: { count?: number; size?: number; mkfs?: string[] | false }): ScratchImages {
    const s = scratchImages(options);
    this.cleanups.push(() => s.cleanup());
    return s;
  }

  python(): PythonPeer {
    if (!this.peer) {
      const peer = new PythonPeer();
      this.peer = peer;
      this.cleanups.push(() => peer.close());
    }
    return this.peer;
  }

  async interleave(runs: number, variants: Variant[], samples: Samples): Promise<void> {
    samples.recording = false;
    let warm = variants.length;
    await interleave(
      runs,
      variants.map((v) => ({
        name: v.name,
        run: async () => {
          await v.run();
          if (warm > 0 && --warm === 0) samples.recording = true;
        },
      })),
      this.log,
    );
  }

  /** Releases everything, last acquired first; reports but survives failures. */
  dispose(): void {
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        cleanup();
      } catch (error) {
        this.log(`cleanup failed: ${(error as Error).message}`);
      }
    }
  }
}
