// The README's examples run as written (so they stay true); docs.test.js type-checks them.
import { testMarkdownExamples } from '../helpers/markdown.js';

testMarkdownExamples('README.md', { label: 'the README', timeout: 120_000, required: true });
