import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { loadTokenizer, type ChatMessage } from '../src/tokenize/index.js';
import { repoRoot } from './helpers/paths.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'tokenize');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-chat-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;

interface Rendering {
  template: string;
  special_tokens: Record<string, string>;
  conversation: string;
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  rendered: string;
}
const recorded = JSON.parse(readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as {
  chat: Rendering[];
  chat_tokenized: { conversation: string; template: string; input_ids: number[] };
};
const templateText = (name: string) => readFileSync(path.join(fixtures, 'templates', `${name}.jinja`), 'utf8');

/** The GPT-2 fixture tokenizer with another tokenizer_config.json (and optional extra files). */
function gpt2With(config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const folder = path.join(scratch, `folder-${counter++}`);
  cpSync(path.join(fixtures, 'gpt2-bpe'), folder, { recursive: true });
  writeFileSync(path.join(folder, 'tokenizer_config.json'), JSON.stringify(config));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
    writeFileSync(path.join(folder, name), content);
  }
  return folder;
}

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is 2+2?' },
];

describe('chat templates render as transformers 5.17 renders them', () => {
  for (const name of ['llama3', 'chatml', 'zephyr']) {
    it(`${name}, with and without the generation prompt`, () => {
      const cases = recorded.chat.filter((rendering) => rendering.template === name);
      assert.equal(cases.length, 4);
      for (const expected of cases) {
        const tokenizer = loadTokenizer(gpt2With({ ...expected.special_tokens, chat_template: templateText(name) }));
        const text = tokenizer.applyChatTemplate(expected.messages, { addGenerationPrompt: expected.add_generation_prompt });
        assert.equal(text, expected.rendered, `${expected.conversation} add_generation_prompt=${expected.add_generation_prompt}`);
      }
    });
  }

  it('tokenize: true gives the ids of the rendered text without added special tokens', () => {
    const tokenizer = loadTokenizer(gpt2With({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: templateText('chatml') }));
    const messages = recorded.chat.find((rendering) => rendering.conversation === recorded.chat_tokenized.conversation)!.messages;
    const ids = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: true });
    assert.deepEqual(ids, recorded.chat_tokenized.input_ids);
    assert.equal(ids[0], tokenizer.tokenToId('<|im_start|>'));
  });
});

describe('choosing and failing chat templates', () => {
  it('a tokenizer without a template refuses, naming the folder; chatTemplate supplies one', () => {
    const folder = gpt2With({ eos_token: '<|endoftext|>' });
    const tokenizer = loadTokenizer(folder);
    assert.throws(
      () => tokenizer.applyChatTemplate(conversation),
      (error: unknown) => error instanceof TunekitError && error.code === 'chat-template-missing' && error.message.includes(folder),
    );
    assert.equal(tokenizer.applyChatTemplate(conversation, { chatTemplate: '{{ messages[1].content }}{{ eos_token }}' }), 'What is 2+2?<|endoftext|>');
  });

  it('raise_exception in a template becomes a TunekitError with its message', () => {
    const tokenizer = loadTokenizer(gpt2With({ bos_token: '<s>', eos_token: '</s>', chat_template: templateText('alternating') }));
    const good = tokenizer.applyChatTemplate([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
    ]);
    assert.equal(good, '<s>[INST] Hi [/INST]Hello</s>');
    assert.throws(
      () => tokenizer.applyChatTemplate([{ role: 'assistant', content: 'Hello' }]),
      (error: unknown) => error instanceof TunekitError && /chat_template: Conversation roles must alternate/.test(error.message),
    );
    assert.throws(() => tokenizer.applyChatTemplate([]), /at least one message/);
    assert.throws(() => tokenizer.applyChatTemplate(conversation, { chatTemplate: '{% for %}' }), /does not parse/);
  });

  it('a list of named templates: default, tool_use when tools are given, or by name; chat_template.jinja wins', () => {
    const config = {
      eos_token: '<|endoftext|>',
      chat_template: [
        { name: 'default', template: 'plain:{{ messages[0].content }}' },
        { name: 'tool_use', template: 'tools:{{ tools | length }}:{{ messages[0].content }}' },
        { name: 'rag', template: 'docs:{{ documents[0].title }}' },
      ],
    };
    const tokenizer = loadTokenizer(gpt2With(config));
    const messages: ChatMessage[] = [{ role: 'user', content: 'x' }];
    assert.equal(tokenizer.applyChatTemplate(messages), 'plain:x');
    assert.equal(tokenizer.applyChatTemplate(messages, { tools: [{ name: 'f' }, { name: 'g' }] }), 'tools:2:x');
    assert.equal(tokenizer.applyChatTemplate(messages, { templateName: 'rag', documents: [{ title: 'T', text: '' }] }), 'docs:T');
    assert.throws(() => tokenizer.applyChatTemplate(messages, { templateName: 'other' }), /no chat template named "other"; it has default, tool_use, rag/);
    assert.equal(tokenizer.applyChatTemplate(messages, { chatTemplate: '{{ flavour }}', variables: { flavour: 'mint' } }), 'mint');

    const overridden = loadTokenizer(gpt2With(config, { 'chat_template.jinja': 'file:{{ messages[0].content }}' }));
    assert.equal(overridden.applyChatTemplate(messages), 'file:x');
    assert.equal(overridden.applyChatTemplate(messages, { templateName: 'rag', documents: [{ title: 'D' }] }), 'docs:D');
  });
});
