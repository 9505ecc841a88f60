// The code blocks of the README and of every guide in docs/ type-check (one TypeScript program for
// all of them: strict, noUncheckedIndexedAccess, checkJs) and run as written, so they stay true;
// so do the runnable ```python examples of the Python guides. The README's js blocks run in
// readme.test.js.
import { readdirSync } from 'node:fs';
import {
  testMarkdownExamples,
  testPythonMarkdownExamples,
  typeCheckMarkdown,
} from '../helpers/markdown.js';
import { noNative } from '../helpers/process.js';
import { needPython, pythonEnv, pythonPath } from '../helpers/python.js';

const guides = readdirSync(new URL('../../docs/', import.meta.url))
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => `docs/${f}`);

typeCheckMarkdown(['README.md', ...guides]);
for (const guide of guides) testMarkdownExamples(guide);

for (const guide of ['docs/python.md', 'docs/coming-from-python.md', 'README.md'])
  testPythonMarkdownExamples(guide, {
    skip: noNative || needPython(['numpy', 'pandas']),
    python: pythonPath,
    env: pythonEnv(),
  });
