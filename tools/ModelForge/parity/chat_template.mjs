// Reference rendering of chat templates with transformers.js (its Jinja, @huggingface/jinja), for a whole corpus in
// one run.
// Usage: node chat_template.mjs <request.json>
//   request.json: {"folders": ["<tokenizer folder>", ...], "conversations": [[{"role": "...", "content": "..."}, ...], ...]}
// Prints one JSON line: {"<folder>": [{"text": "<rendered prompt>", "ids": [<token ids>]}, ...], ...}, one entry per
// conversation, rendered with add_generation_prompt: true (ids as apply_chat_template(..., {tokenize: true}) gives them).
// Only local files are read: remote models are disabled.
import fs from 'node:fs';
import path from 'node:path';
import { env, AutoTokenizer } from '@huggingface/transformers';

const [requestPath] = process.argv.slice(2);
if (!requestPath) {
  console.error('usage: node chat_template.mjs <request.json>');
  process.exit(2);
}

const { folders, conversations } = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
env.allowRemoteModels = false;
env.allowLocalModels = true;

const result = {};
for (const folder of folders) {
  const absolute = path.resolve(folder);
  env.localModelPath = path.dirname(absolute);
  const tokenizer = await AutoTokenizer.from_pretrained(path.basename(absolute));
  result[folder] = conversations.map((messages) => ({
    text: tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }),
    ids: tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: true, return_dict: false, return_tensor: false }),
  }));
}

console.log(JSON.stringify(result));
