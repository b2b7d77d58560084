// esbuild turns CSS imports into the sibling app.css bundle; TypeScript only needs to accept them.
declare module '*.css';
