// `validate`: load each state file on its own, so one broken file does not hide problems in the next.

import { formatDiagnostic, VrError, type Diagnostic } from '../domain/errors.js';

export interface FileCheck {
  file: string;
  ok: boolean;
  diagnostics: Diagnostic[];
}

export async function checkStateFiles(paths: string[]): Promise<FileCheck[]> {
  const { loadStateFile } = await import('../desire/load.js');
  return paths.map((file) => {
    try {
      loadStateFile(file);
      return { file, ok: true, diagnostics: [] };
    } catch (err) {
      return { file, ok: false, diagnostics: diagnosticsOf(file, err) };
    }
  });
}

function diagnosticsOf(file: string, err: unknown): Diagnostic[] {
  if (err instanceof VrError && err.diagnostics.length > 0) return err.diagnostics;
  const message = err instanceof Error ? err.message : String(err);
  return [{ file, message }];
}

export function renderValidation(files: FileCheck[]): string {
  return files.map((f) => (f.ok ? `${f.file}: ok` : f.diagnostics.map(formatDiagnostic).join('\n'))).join('\n');
}
