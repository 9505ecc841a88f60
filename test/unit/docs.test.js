// The code blocks of the README and of every guide in docs/ type-check (one TypeScript program for
// all of them: strict, noUncheckedIndexedAccess, checkJs) and run as written, so they stay true.
// The README's blocks run in readme.test.js.
import { readdirSync } from 'node:fs';
import { testMarkdownExamples, typeCheckMarkdown } from '../helpers/markdown.js';

const guides = readdirSync(new URL('../../docs/', import.meta.url))
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => `docs/${f}`);

typeCheckMarkdown(['README.md', ...guides]);
for (const guide of guides) testMarkdownExamples(guide);
