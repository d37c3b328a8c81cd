// Color is decided once per run, the way kleur does it, so every view agrees and a pipe or
// NO_COLOR never receives escape codes.

export interface ColorInputs {
  env: Record<string, string | undefined>;
  isTTY: boolean;
  /** `--color` (true) / `--no-color` (false); undefined when neither was given. */
  flag?: boolean;
}

export function colorEnabled({ env, isTTY, flag }: ColorInputs): boolean {
  if (flag !== undefined) return flag;
  if (env.NODE_DISABLE_COLORS !== undefined || env.NO_COLOR !== undefined || env.TERM === 'dumb') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0';
  return isTTY;
}

export type Paint = (text: string) => string;
export interface Palette {
  red: Paint;
  green: Paint;
  yellow: Paint;
  bold: Paint;
  dim: Paint;
}

const sgr = (open: number, close: number): Paint => (text) => `\x1b[${open}m${text}\x1b[${close}m`;
const plain: Paint = (text) => text;

export function palette(color: boolean): Palette {
  return color
    ? { red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), bold: sgr(1, 22), dim: sgr(2, 22) }
    : { red: plain, green: plain, yellow: plain, bold: plain, dim: plain };
}
