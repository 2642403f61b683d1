using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.Vad;

/// <summary>
/// Silero VAD on ONNX Runtime, 16 kHz, one call per 512-sample (32 ms) window. Both published graph generations are
/// recognised from the session's inputs: v5 (<c>input</c>, <c>state</c> [2, batch, 128], <c>sr</c>; each window is
/// preceded by the last 64 samples of the previous one, so the model sees 576) and v4 (<c>input</c>, <c>sr</c>,
/// <c>h</c>/<c>c</c> [2, batch, 64]; no context). The recurrent state is carried between windows and cleared by
/// <see cref="Reset"/>. Owns its session; dispose it.
/// </summary>
public sealed class SileroVoiceActivityDetector : IVoiceActivityDetector
{
    private readonly WindowedDetector _detector;

    private SileroVoiceActivityDetector(SileroScorer scorer, VadOptions options, string executionProvider)
    {
        _detector = new WindowedDetector(scorer, options);
        ExecutionProvider = executionProvider;
    }

    /// <inheritdoc/>
    public string Kind => "silero";

    /// <summary>The execution provider the session runs on.</summary>
    public string ExecutionProvider { get; }

    /// <inheritdoc/>
    public long ProcessedSamples => _detector.ProcessedSamples;

    /// <summary>
    /// Loads <paramref name="modelPath"/>. A missing file, a graph that does not load, or one without Silero's inputs and
    /// outputs, or invalid options, come back as the result's error.
    /// </summary>
    public static SpeechResult<SileroVoiceActivityDetector> Open(string modelPath, VadOptions? options = null, SpeechSessionOptions? sessionOptions = null)
    {
        options ??= new VadOptions();
        if (options.Validate() is { } problem)
        {
            return SpeechResult.Failure<SileroVoiceActivityDetector>(SpeechErrorCode.InvalidOptions, problem);
        }

        // One thread: a 32 ms window is far too small a job to share out, and each meeting runs its own detector.
        var opened = SpeechSessions.Open(modelPath, (sessionOptions ?? SpeechSessionOptions.Cpu()) with { IntraOpThreads = 1, InterOpThreads = 1 });
        if (!opened.IsSuccess)
        {
            return SpeechResult.Failure<SileroVoiceActivityDetector>(opened.Error.Code, opened.Error.Message);
        }

        var session = opened.Value.Session;
        var scorer = SileroScorer.TryCreate(session);
        if (scorer is null)
        {
            var inputs = string.Join(", ", session.InputMetadata.Keys);
            session.Dispose();
            return SpeechResult.Failure<SileroVoiceActivityDetector>(SpeechErrorCode.ModelInvalid, $"{modelPath} is not a Silero VAD graph (inputs: {inputs}).");
        }

        return SpeechResult.Success<SileroVoiceActivityDetector>(new SileroVoiceActivityDetector(scorer, options, opened.Value.ExecutionProvider));
    }

    /// <inheritdoc/>
    public IReadOnlyList<VadEvent> Process(ReadOnlySpan<float> samples) => _detector.Process(samples);

    /// <inheritdoc/>
    public IReadOnlyList<VadEvent> Flush() => _detector.Flush();

    /// <inheritdoc/>
    public void Reset() => _detector.Reset();

    /// <inheritdoc/>
    public void Dispose() => _detector.Dispose();

    /// <summary>Probability of each window; state tensors are bound to managed arrays created once.</summary>
    private sealed class SileroScorer : IWindowScorer
    {
        private const int Window = 512;
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();
        private readonly int _context;
        private readonly float[] _input;
        private readonly float[][] _states;
        private readonly float[][] _nextStates;
        private readonly float[] _probability = new float[1];
        private readonly List<OrtValue> _values = [];
        private readonly string[] _inputNames;
        private readonly string[] _outputNames;
        private readonly OrtValue[] _inputValues;
        private readonly OrtValue[] _outputValues;

        private SileroScorer(InferenceSession session, int context, string[] stateInputs, string[] stateOutputs, long[] stateShape)
        {
            _session = session;
            _context = context;
            _input = new float[context + Window];
            var stateLength = (int)stateShape.Aggregate(1L, (a, b) => a * b);
            _states = [.. stateInputs.Select(_ => new float[stateLength])];
            _nextStates = [.. stateInputs.Select(_ => new float[stateLength])];
            _inputNames = ["input", "sr", .. stateInputs];
            _outputNames = ["output", .. stateOutputs];
            _inputValues =
            [
                Keep(OrtValue.CreateTensorValueFromMemory(_input, [1, _input.Length])),
                Keep(OrtValue.CreateTensorValueFromMemory(new long[] { VoiceActivity.SampleRate }, [])),
                .. _states.Select(s => Keep(OrtValue.CreateTensorValueFromMemory(s, stateShape))),
            ];
            _outputValues =
            [
                Keep(OrtValue.CreateTensorValueFromMemory(_probability, [1, 1])),
                .. _nextStates.Select(s => Keep(OrtValue.CreateTensorValueFromMemory(s, stateShape))),
            ];
        }

        public int WindowSamples => Window;

        public static SileroScorer? TryCreate(InferenceSession session)
        {
            var inputs = session.InputMetadata;
            var outputs = session.OutputMetadata;
            if (!inputs.ContainsKey("input") || !inputs.ContainsKey("sr") || !outputs.ContainsKey("output"))
            {
                return null;
            }

            if (inputs.TryGetValue("state", out var state) && outputs.ContainsKey("stateN"))
            {
                return new SileroScorer(session, 64, ["state"], ["stateN"], StateShape(state.Dimensions));
            }

            if (inputs.TryGetValue("h", out var h) && inputs.ContainsKey("c") && outputs.ContainsKey("hn") && outputs.ContainsKey("cn"))
            {
                return new SileroScorer(session, 0, ["h", "c"], ["hn", "cn"], StateShape(h.Dimensions));
            }

            return null;
        }

        public float Score(ReadOnlySpan<float> window)
        {
            window.CopyTo(_input.AsSpan(_context));
            _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
            for (var i = 0; i < _states.Length; i++)
            {
                _nextStates[i].CopyTo(_states[i], 0);
            }

            // The next window's context is the end of this one.
            _input.AsSpan(_input.Length - _context).CopyTo(_input);
            return _probability[0];
        }

        public void Reset()
        {
            Array.Clear(_input);
            foreach (var state in _states)
            {
                Array.Clear(state);
            }
        }

        public void Dispose()
        {
            foreach (var value in _values)
            {
                value.Dispose();
            }

            _runOptions.Dispose();
            _session.Dispose();
        }

        // Batch 1 where the graph leaves the dimension symbolic ([2, -1, 128] → [2, 1, 128]).
        private static long[] StateShape(int[] dimensions) => [.. dimensions.Select(d => d < 0 ? 1L : d)];

        private OrtValue Keep(OrtValue value)
        {
            _values.Add(value);
            return value;
        }
    }
}
