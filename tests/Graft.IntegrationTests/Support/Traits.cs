namespace Graft.IntegrationTests.Support;

/// <summary>
/// The xunit traits the tests carry, so that a run can pick them:
/// <c>./test.sh --filter "Category!=Stress"</c> is the quick run for day-to-day work.
/// </summary>
internal static class Traits
{
    public const string Category = "Category";

    /// <summary>
    /// Repeats an operation many times, or for long, against a target kept busy, to catch races
    /// that a single run rarely hits: minutes together, so only the full run (and CI) runs them.
    /// </summary>
    public const string Stress = "Stress";
}
