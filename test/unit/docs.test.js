// The ```js examples of the guides run as written (so the guides stay true), as the README's do;
// so do the runnable ```python examples of the Python guide.
import { testMarkdownExamples, testPythonMarkdownExamples } from '../helpers/markdown.js';
import { noNative } from '../helpers/process.js';
import { needPython, pythonEnv, pythonPath } from '../helpers/python.js';

for (const guide of ['docs/getting-started.md', 'docs/coming-from-python.md', 'docs/python.md'])
  testMarkdownExamples(guide);

for (const guide of ['docs/python.md', 'docs/coming-from-python.md', 'README.md'])
  testPythonMarkdownExamples(guide, {
    skip: noNative || needPython(['numpy', 'pandas']),
    python: pythonPath,
    env: pythonEnv(),
  });
