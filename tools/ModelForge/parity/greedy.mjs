// Independent check of a forged model folder with transformers.js (ONNX Runtime for Node underneath).
// Usage: node greedy.mjs <model-folder> <prompt> [max-new-tokens]
// Prints one JSON line: the prompt's token ids, the greedily generated ids, and the chat-templated prompt.
// Only local files are read: remote models are disabled.
import path from 'node:path';
import { env, AutoTokenizer, AutoModelForCausalLM } from '@huggingface/transformers';

const [folder, prompt, maxNewTokensText = '16'] = process.argv.slice(2);
if (!folder || prompt === undefined) {
  console.error('usage: node greedy.mjs <model-folder> <prompt> [max-new-tokens]');
  process.exit(2);
}

const absolute = path.resolve(folder);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(absolute);
const name = path.basename(absolute);

const tokenizer = await AutoTokenizer.from_pretrained(name);
// The forge writes the ONNX Runtime GenAI layout: model.onnx (+ model.onnx.data) at the top of the folder.
const model = await AutoModelForCausalLM.from_pretrained(name, {
  subfolder: '',
  model_file_name: 'model',
  dtype: 'fp32',
  device: 'cpu',
});

const inputs = tokenizer(prompt, { add_special_tokens: false });
const promptIds = Array.from(inputs.input_ids.data, Number);
const output = await model.generate({
  ...inputs,
  max_new_tokens: Number.parseInt(maxNewTokensText, 10),
  do_sample: false,
});
const all = Array.from(output.data, Number);
const chat = tokenizer.apply_chat_template([{ role: 'user', content: prompt }], {
  tokenize: false,
  add_generation_prompt: true,
});

console.log(JSON.stringify({ prompt_ids: promptIds, generated_ids: all.slice(promptIds.length), chat }));
await model.dispose();
