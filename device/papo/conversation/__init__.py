"""The companion's conversation: LLM replies, memory, reminders, wellbeing and the CrewAI crew."""
