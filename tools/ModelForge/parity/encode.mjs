// Token ids of a text with the tokenizer of a folder (no special tokens added), from transformers.js.
// Usage: node encode.mjs <tokenizer-folder> <text>   Prints one JSON line: the ids.
import { loadLocalTokenizer } from './local_tokenizer.mjs';

const [folder, text] = process.argv.slice(2);
if (!folder || text === undefined) {
  console.error('usage: node encode.mjs <tokenizer-folder> <text>');
  process.exit(2);
}

const tokenizer = await loadLocalTokenizer(folder);
console.log(JSON.stringify(tokenizer.encode(text, { add_special_tokens: false })));
