import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The system programs conversion runs, each with the Debian package that provides it. */
export const TOOL_PACKAGES = {
  'qemu-img': 'qemu-utils',
  xz: 'xz-utils',
  zstd: 'zstd',
  bzip2: 'bzip2',
  prlimit: 'util-linux',
} as const;
export type ToolName = keyof typeof TOOL_PACKAGES;

/**
 * Where each conversion tool is installed, found once at start-up. A missing tool is not an error:
 * `npm start` works without qemu-utils, and an import that would need it is refused with a hint.
 */
export class ConversionTools {
  private readonly paths: Map<ToolName, string | null>;

  /** @param searchPath where to look, like PATH (default: PATH plus sbin, where prlimit may live off a user's PATH). */
  constructor(searchPath: string = [process.env.PATH ?? '', '/usr/bin', '/usr/sbin', '/sbin'].join(delimiter)) {
    const dirs = searchPath.split(delimiter).filter(Boolean);
    this.paths = new Map(
      (Object.keys(TOOL_PACKAGES) as ToolName[]).map((tool) => [
        tool,
        dirs.map((dir) => join(dir, tool)).find(isExecutable) ?? null,
      ]),
    );
  }

  /** The tool's absolute path, or null when it is not installed. */
  path(tool: ToolName): string | null {
    return this.paths.get(tool) ?? null;
  }

  /** Why the tool cannot be used here, for a refusal's hint; null when it is installed. */
  missing(tool: ToolName): string | null {
    if (this.path(tool)) return null;
    const pkg = TOOL_PACKAGES[tool];
    return `this server cannot convert it: ${tool} is not installed here (the operator can add it: apt-get install ${pkg})`;
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
