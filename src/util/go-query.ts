// Query strings read the way the Kubernetes API server reads them: Go's net/url.ParseQuery (what
// req.URL.Query() does) and the API server's query-parameter booleans. WHATWG URLSearchParams reads
// some inputs differently (it keeps malformed %-escapes and pairs with ';'), and a proxy that decides
// what to record must see what the API server will act on.

/**
 * Go's QueryUnescape: '+' is a space; a '%' not followed by two hex digits makes the whole pair
 * invalid. `text` holds one byte per character, as Node gives req.url (latin1); decoded bytes are
 * read as UTF-8.
 */
function goQueryUnescape(text: string): string | undefined {
  if (!/[%+\u0080-\u00ff]/.test(text)) return text;
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (byte === 0x25 /* % */) {
      const hex = raw.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(byte === 0x2b /* + */ ? 0x20 : byte);
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Go's url.ParseQuery, keeping what it keeps when it also returns an error: pairs are split on '&'
 * only; a pair containing ';' or a malformed escape (in its key or value) is dropped; empty pairs are
 * skipped; values of a key stay in order.
 */
export function parseGoQuery(query: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const pair of query.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const key = goQueryUnescape(eq < 0 ? pair : pair.slice(0, eq));
    const value = goQueryUnescape(eq < 0 ? '' : pair.slice(eq + 1));
    if (key === undefined || value === undefined) continue;
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return values;
}

/** The query of a request target: everything after the first '?' (Go keeps '#' in it, as do we). */
export function rawQuery(target: string): string {
  const at = target.indexOf('?');
  return at < 0 ? '' : target.slice(at + 1);
}

/**
 * A boolean query parameter as the API server decodes PodExecOptions/PodAttachOptions
 * (runtime.Convert_Slice_string_To_bool, not strconv.ParseBool): the first value counts; absent,
 * "0", and "false" compared with strings.EqualFold are false; anything else, "" and "yes"
 * included, is true. EqualFold folds 'ſ' (U+017F) to 's', hence the class below.
 */
export function apiServerBool(values: Map<string, string[]>, name: string): boolean {
  const first = values.get(name)?.[0];
  if (first === undefined) return false;
  return !(first === '0' || /^[fF][aA][lL][sSſ][eE]$/.test(first));
}
