import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { getPeftModel, loadModel, loraConfig, manualSeed, noGrad, randn } from '../../src/index.js';
import { sharedDir } from './paths.js';

export const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');

/** A plain-text chat template, enough to prove the server renders the model's own template. */
export const CHAT_TEMPLATE = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

/** A copy of stories260K in `dir` whose tokenizer_config.json carries CHAT_TEMPLATE. */
export function storiesWithChatTemplate(dir: string): string {
  mkdirSync(dir, { recursive: true });
  cpSync(stories, dir, { recursive: true });
  const file = path.join(dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...config, chat_template: CHAT_TEMPLATE }, null, 2));
  return dir;
}

/** Saves a LoRA adapter for the model in `modelDir` whose B matrices are seeded noise, so it changes generations. */
export async function saveNoisyLora(modelDir: string, dir: string, seed: number): Promise<string> {
  const { model } = await loadModel(modelDir);
  const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', taskType: 'CAUSAL_LM' }));
  manualSeed(seed);
  noGrad(() => {
    for (const [name, parameter] of peft.namedParameters()) if (name.includes('lora_B')) parameter.copy_(randn(parameter.shape).mul(0.5));
  });
  await peft.savePretrained(dir);
  peft.dispose();
  return dir;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, json, text };
}

/** The `data:` payloads of a server-sent event stream, in order ("[DONE]" kept as the string). */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.trim() !== '')
    .map((event) => {
      if (!event.startsWith('data: ')) throw new Error(`not an SSE data event: ${JSON.stringify(event)}`);
      return event.slice('data: '.length);
    });
}
