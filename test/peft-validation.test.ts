/**
 * Adapters that do not fit their base are refused before anything is attached: a task_type of the other kind of
 * model, a soft prompt laid out for another architecture, and NaN/Inf weights (on load, on merge, on GGUF export).
 * Each refusal is a TunekitError whose one-line message names the file (or adapter), the field or tensor, and both
 * sides. Reference adapters are copied into a scratch folder before they are altered.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import type { LanguageModel } from '../src/models/index.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { exportLoraToGguf, getPeftModel, loadAdapter, loraConfig, PeftModel, promptTuningConfig } from '../src/peft/index.js';
import { firstNonFinite, noGrad, tensor, type Tensor } from '../src/torch/index.js';
import { copyAdapter, setFloat32InSafetensors } from './helpers/adapters.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const tiny = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-peft-validation-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
const scratchPath = (name: string) => path.join(scratch, `${counter++}-${name}`);

/** Asserts a TunekitError with `code` whose message is one line matching every pattern. */
function refusal(code: string, ...patterns: RegExp[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TunekitError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.message.includes('\n'), false, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const adapterParameterNames = (peft: PeftModel) => peft.namedParameters().map(([name]) => name).filter((name) => /lora_|prompt_encoder\./.test(name));

describe('firstNonFinite', () => {
  it('names the first floating-point tensor holding NaN or ±Inf, in any float dtype; integers are skipped', () => {
    const finite = tensor([1, -2, 3.5]);
    const nan = tensor([1, Number.NaN]);
    const negativeInf = tensor([[0, -Infinity]]);
    const halfInf = tensor([1, Infinity]).to('float16');
    const bfloatNan = tensor([Number.NaN]).to('bfloat16');
    const integers = tensor([1, 2], { dtype: 'int64' });
    try {
      assert.equal(firstNonFinite([['finite', finite], ['integers', integers]]), null);
      assert.equal(firstNonFinite(new Map<string, Tensor>([['finite', finite], ['nan', nan], ['inf', negativeInf]])), 'nan');
      assert.equal(firstNonFinite([['inf', negativeInf]]), 'inf');
      assert.equal(firstNonFinite([['half', halfInf]]), 'half');
      assert.equal(firstNonFinite([['bf16', bfloatNan]]), 'bf16');
    } finally {
      for (const t of [finite, nan, negativeInf, halfInf, bfloatNan, integers]) t.dispose();
    }
  });
});

describe('adapters that do not fit the base are refused', { skip: hasShared ? false : 'no ../shared' }, () => {
  let llama: LanguageModel | undefined;
  let t5: LanguageModel | undefined;
  after(() => {
    llama?.dispose();
    t5?.dispose();
  });
  const models = async () => {
    llama ??= await loadModelFromFolder(path.join(tiny, 'llama'));
    t5 ??= await loadModelFromFolder(path.join(tiny, 't5_flan'));
    return { llama, t5 };
  };

  it('a SEQ_2_SEQ_LM adapter on a decoder-only model, naming adapter_config.json and both kinds; nothing is attached', async () => {
    const { llama } = await models();
    const peft = new PeftModel(llama);
    const dir = path.join(tiny, 't5_flan', 'adapters', 'prompt_tuning');
    await assert.rejects(
      loadAdapter(peft, dir),
      refusal('E_ADAPTER', new RegExp(`^${escape(path.join(dir, 'adapter_config.json'))}: "task_type" is "SEQ_2_SEQ_LM" \\(an adapter for encoder-decoder models\\), but the base model \\(llama\\) is decoder-only \\(CAUSAL_LM\\)$`)),
    );
    assert.deepEqual(peft.adapterNames, []);
    assert.deepEqual(adapterParameterNames(peft), []);
  });

  it('a CAUSAL_LM adapter on T5 (getPeftModel names the adapter)', async () => {
    const { t5 } = await models();
    assert.throws(
      () => getPeftModel(t5, loraConfig({ taskType: 'CAUSAL_LM', targetModules: ['q', 'v'] }), 'mine'),
      refusal('E_ADAPTER', /^adapter "mine": "task_type" is "CAUSAL_LM" \(an adapter for decoder-only models\), but the base model \(t5\) is encoder-decoder \(SEQ_2_SEQ_LM\)$/),
    );
    const peft = new PeftModel(t5);
    const dir = copyAdapter(path.join(tiny, 'llama', 'adapters', 'lora_default'), scratchPath('causal-on-t5'));
    await assert.rejects(loadAdapter(peft, dir), refusal('E_ADAPTER', /lora_default|causal-on-t5/, /adapter_config\.json: "task_type" is "CAUSAL_LM"/, /\(t5\) is encoder-decoder/));
    assert.deepEqual(adapterParameterNames(peft), []);
  });

  it('a T5 soft prompt (num_transformer_submodules 2) on a decoder-only model, even with task_type changed', async () => {
    const { llama } = await models();
    const dir = copyAdapter(path.join(tiny, 't5_flan', 'adapters', 'prompt_tuning'), scratchPath('t5-prompt'), { task_type: 'CAUSAL_LM' });
    const peft = new PeftModel(llama);
    await assert.rejects(
      loadAdapter(peft, dir),
      refusal('E_ADAPTER', new RegExp(`^${escape(path.join(dir, 'adapter_config.json'))}: "num_transformer_submodules" is 2 \\(a soft prompt for encoder-decoder models such as T5\\), but the base model \\(llama\\) is decoder-only, which takes 1$`)),
    );
    assert.deepEqual(peft.adapterNames, []);
    const noTask = copyAdapter(path.join(tiny, 't5_flan', 'adapters', 'prompt_tuning'), scratchPath('t5-prompt-no-task'), { task_type: null });
    await assert.rejects(loadAdapter(peft, noTask), refusal('E_ADAPTER', /"num_transformer_submodules" is 2/));
    assert.throws(() => getPeftModel(llama, promptTuningConfig({ numVirtualTokens: 4, numTransformerSubmodules: 2 })), refusal('E_ADAPTER', /^adapter "default": "num_transformer_submodules" is 2/));
  });

  it('a soft prompt of another width (token_dim) or an impossible layout on T5', async () => {
    const { llama, t5 } = await models();
    const dir = copyAdapter(path.join(tiny, 'llama', 'adapters', 'prompt_tuning'), scratchPath('narrow-prompt'), { token_dim: 32 });
    await assert.rejects(
      loadAdapter(new PeftModel(llama), dir),
      refusal('E_ADAPTER', new RegExp(`^${escape(path.join(dir, 'adapter_config.json'))}: "token_dim" is 32, but the token embeddings of the base model \\(llama\\) are 64 wide$`)),
    );
    assert.throws(() => getPeftModel(t5, promptTuningConfig({ numVirtualTokens: 4, numTransformerSubmodules: 3 })), refusal('E_ADAPTER', /"num_transformer_submodules" is 3, but the base model \(t5\) is encoder-decoder, which takes 1 or 2/));
    assert.throws(() => getPeftModel(t5, promptTuningConfig({ numVirtualTokens: 0 })), refusal('E_ADAPTER_CONFIG', /"num_virtual_tokens" must be a whole number ≥ 1, found 0/));
  });

  it('every reference adapter still loads on its own base', async () => {
    for (const [model, adapters] of [['llama', ['lora_default', 'lora_all_linear', 'lora_rslora', 'prompt_tuning']], ['t5_flan', ['lora_default', 'prompt_tuning']], ['gpt2', ['lora_default']]] as const) {
      const base = model === 'llama' ? (await models()).llama : model === 't5_flan' ? (await models()).t5 : await loadModelFromFolder(path.join(tiny, model));
      for (const adapter of adapters) {
        const peft = new PeftModel(base);
        await loadAdapter(peft, path.join(tiny, model, 'adapters', adapter));
        assert.deepEqual(peft.adapterNames, ['default'], `${model}/${adapter}`);
        peft.deleteAdapter('default');
      }
      if (model === 'gpt2') base.dispose();
    }
  });
});

describe('NaN and Inf adapter weights are reported', { skip: hasShared ? false : 'no ../shared' }, () => {
  const lora = path.join(tiny, 'llama', 'adapters', 'lora_default');
  const poisoned = 'base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight';

  it('on load: E_ADAPTER_WEIGHTS naming adapter_model.safetensors and the tensor; nothing is attached', async () => {
    const llama = await loadModelFromFolder(path.join(tiny, 'llama'));
    try {
      for (const [value, key] of [[Number.NaN, poisoned], [Infinity, 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'], [-Infinity, poisoned]] as const) {
        const dir = copyAdapter(lora, scratchPath('poisoned'));
        const file = path.join(dir, 'adapter_model.safetensors');
        setFloat32InSafetensors(file, key, 5, value);
        const peft = new PeftModel(llama);
        await assert.rejects(loadAdapter(peft, dir), refusal('E_ADAPTER_WEIGHTS', new RegExp(`^${escape(file)}: tensor "${escape(key)}" holds NaN or infinite values; the adapter was not loaded$`)));
        assert.deepEqual(peft.adapterNames, []);
        assert.deepEqual(adapterParameterNames(peft), []);
      }
    } finally {
      llama.dispose();
    }
  });

  it('on merge: mergeAdapter and mergeAndUnload refuse before any base weight changes, naming the adapter and tensor', async () => {
    const llama = await loadModelFromFolder(path.join(tiny, 'llama'));
    try {
      const peft = new PeftModel(llama);
      await loadAdapter(peft, lora);
      const baseBytes = () => new Map(llama.namedParameters().filter(([name]) => !name.includes('lora_')).map(([name, p]) => [name, Buffer.from(p.bytes()).toString('base64')]));
      const before = baseBytes();
      const parameter = 'model.layers.2.self_attn.v_proj.lora_B.default.weight';
      noGrad(() => (peft.adapterParameters('default').get(parameter) as Tensor).fill_(Number.NaN));
      const pattern = new RegExp(`^adapter "default": tensor "${escape(parameter)}" holds NaN or infinite values; nothing was merged into the base weights$`);
      assert.throws(() => peft.mergeAdapter('default'), refusal('E_ADAPTER_WEIGHTS', pattern));
      assert.throws(() => peft.mergeAndUnload(), refusal('E_ADAPTER_WEIGHTS', pattern));
      assert.deepEqual(baseBytes(), before);
      assert.deepEqual(peft.adapterNames, ['default']);
      peft.deleteAdapter('default');
    } finally {
      llama.dispose();
    }
  });

  it('on GGUF export: naming the file and tensor, writing nothing', async () => {
    const dir = copyAdapter(lora, scratchPath('poisoned-gguf'));
    const file = path.join(dir, 'adapter_model.safetensors');
    setFloat32InSafetensors(file, poisoned, 0, Number.NaN);
    const baseConfig = JSON.parse(readFileSync(path.join(tiny, 'llama', 'config.json'), 'utf8')) as Record<string, unknown>;
    const outPath = scratchPath('poisoned.gguf');
    await assert.rejects(
      exportLoraToGguf({ adapterDir: dir, baseConfig, outPath }),
      refusal('E_ADAPTER_WEIGHTS', new RegExp(`^${escape(file)}: tensor "${escape(poisoned)}" holds NaN or infinite values; nothing was exported$`)),
    );
    assert.equal(existsSync(outPath), false);
  });
});
