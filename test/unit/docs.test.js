// The ```js examples of the guides run as written (so the guides stay true), as the README's do.
import { testMarkdownExamples } from '../helpers/markdown.js';

for (const guide of ['docs/getting-started.md', 'docs/coming-from-python.md', 'docs/compute.md'])
  testMarkdownExamples(guide);
