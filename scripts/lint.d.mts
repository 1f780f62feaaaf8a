export function lintImports(root: string): string[];
