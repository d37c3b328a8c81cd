// The port contract's path rule, shared by every SysfsPort: paths are relative to the port's root
// and never climb out of it, whatever built them.

export function assertRootRelative(path: string): void {
  if (path.startsWith('/') || path.includes('\0')) {
    throw new Error(`sysfs path must be relative to the root: ${JSON.stringify(path)}`);
  }
  // The substring test first: observe checks hundreds of thousands of paths that have no '..'.
  if (path.includes('..') && path.split('/').includes('..')) {
    throw new Error(`sysfs path must not climb out of the root: ${JSON.stringify(path)}`);
  }
}
