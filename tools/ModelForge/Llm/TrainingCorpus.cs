namespace Appliance.ModelForge.Llm;

/// <summary>
/// A short, original English text from which the forge learns its BPE merges. It only has to make the merges
/// plausible (common words become single tokens); the weights are random anyway.
/// </summary>
internal static class TrainingCorpus
{
    public const string Text = """
        The appliance listens for its wake word, then it turns the spoken request into a short command.
        When the user asks the fridge about the temperature, the model reads the sensor values and answers.
        A meeting summary lists the decisions, the action items and the owner of each item.
        Think about the question first, then give a clear and short answer to the user.
        The television can change the channel, set the volume, open an app or turn itself off.
        If the door of the fridge is open for more than two minutes, the appliance sends a warning.
        Field technicians update the models over the air and roll back when the smoke test fails.
        The assistant should be helpful, honest and brief. It should not invent facts that it does not know.
        What is the weather today? Please turn on the lights in the kitchen and the living room.
        Hello, how are you? I am fine, thank you. Can you help me with this task? Yes, of course I can.
        Numbers such as 1, 2, 3, 10, 42 and 2025 appear in times, dates, temperatures and prices.
        The quick brown fox jumps over the lazy dog while the small model writes one token at a time.
        In the morning the coffee machine starts, and in the evening the oven preheats for dinner.
        Every answer is generated token by token, and each token depends on the tokens before it.
        """;
}
