import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { ftsQuery, isIndexPath } from '../../src/store/index-db';

describe('index: search query quoting and stored paths', () => {
  const db = new Database(':memory:');
  db.exec(`CREATE VIRTUAL TABLE screen USING fts5(text, t UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')`);
  const insert = db.prepare('INSERT INTO screen (text, t) VALUES (?, ?)');
  for (const text of ['$ echo kubecast-needle-1234', 'kubecast-needle-1234', 'NEAR the OR operator (really)', 'say "hi" * 2']) insert.run(text, 0);
  const match = db.prepare('SELECT text FROM screen WHERE screen MATCH ?').pluck();

  test('FTS syntax in user input is searched for as text, never an error', () => {
    for (const input of ['"', '*', 'NEAR(', 'OR', 'a OR b', '(', ')', 'text:', '^x', '"unbalanced', 'col:val', 'AND NOT', '-x', '\u0000']) {
      const q = ftsQuery(input);
      if (q !== null) assert.doesNotThrow(() => match.all(q), input);
    }
    assert.deepEqual(match.all(ftsQuery('OR operator')!), ['NEAR the OR operator (really)']);
    assert.deepEqual(match.all(ftsQuery('NEAR(')!), ['NEAR the OR operator (really)']);
    assert.deepEqual(match.all(ftsQuery('"hi"')!), ['say "hi" * 2']);
  });

  test('any input whatsoever yields a valid query or none', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (input) => {
        const q = ftsQuery(input);
        if (q !== null) match.all(q);
      }),
      { numRuns: 2000 },
    );
  });

  test('words are prefixes and a hyphenated word is a phrase', () => {
    assert.deepEqual(match.all(ftsQuery('kubecast-needle-1234')!), ['$ echo kubecast-needle-1234', 'kubecast-needle-1234']);
    assert.deepEqual(match.all(ftsQuery('kubec')!).length, 2);
    assert.deepEqual(match.all(ftsQuery('needle-kubecast')!), []);
    assert.equal(ftsQuery('  *** ""  '), null);
  });

  test('only recordings/YYYY/MM/DD/ID.cast of the same id is a path the index may hold', () => {
    const id = '3de8c67a-367c-48e6-bc38-bd08412f36cc';
    assert.equal(isIndexPath(`recordings/2026/03/01/${id}.cast`, id), true);
    assert.equal(isIndexPath(`recordings/2026/03/01/${id}.cast`, '3de8c67a-367c-48e6-bc38-bd08412f36cd'), false);
    assert.equal(isIndexPath(`recordings/2026/03/../../../${id}.cast`, id), false);
    assert.equal(isIndexPath(`/etc/recordings/2026/03/01/${id}.cast`, id), false);
    assert.equal(isIndexPath(`recordings/2026/03/01/${id}.cast`, '../x'), false);
  });
});
